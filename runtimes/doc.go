// Package runtimes holds what runs retrofit's converted models outside
// retrofit: llama.cpp/ has a patch that teaches llama.cpp every retrofit
// layout (K/V sharing, looped blocks, Depth-Attention), a script that builds
// and checks it, and this package's tests compare llama.cpp's results with
// retrofit's engine whenever a patched build is given
// (RETROFIT_LLAMA_CPP=<its bin directory>).
package runtimes
