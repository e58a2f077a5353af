package chassis_test

import (
	"fmt"
	"regexp"
	"testing"

	"go.uber.org/goleak"

	"github.com/chassis-go/chassis"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestVersion(t *testing.T) {
	if !regexp.MustCompile(`^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`).MatchString(chassis.Version) {
		t.Errorf("Version = %q; want semantic version MAJOR.MINOR.PATCH", chassis.Version)
	}
}

func ExampleVersion() {
	fmt.Println("chassis", chassis.Version)
	// Output: chassis 0.1.0
}
