module github.com/chassis-go/chassis/monitoring/e2e

go 1.26
