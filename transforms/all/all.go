// Package all imports every transform so that it registers itself.
package all

import (
	_ "github.com/retrofit-llm/retrofit/transforms/cla"
	_ "github.com/retrofit-llm/retrofit/transforms/depthattn"
	_ "github.com/retrofit-llm/retrofit/transforms/kvsharer"
	_ "github.com/retrofit-llm/retrofit/transforms/looped"
	_ "github.com/retrofit-llm/retrofit/transforms/mlkv"
)
