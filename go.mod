module github.com/aqueduct-cdn/aqueduct

go 1.26.0

require (
	go.yaml.in/yaml/v3 v3.0.6
	golang.org/x/sync v0.24.0
	golang.org/x/sys v0.49.0
)
