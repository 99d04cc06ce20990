package plot

import "image/color"

var palette = []color.RGBA{{31, 119, 180, 255}, {214, 39, 40, 255}, {44, 160, 44, 255}, {255, 127, 14, 255}}

func plotColor(i int) color.Color { return palette[i%len(palette)] }
