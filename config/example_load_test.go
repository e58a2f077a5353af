package config_test

import (
	"fmt"
	"time"

	"github.com/chassis-go/chassis/config"
)

type exampleConfig struct {
	Port     int           `env:"PORT" envDefault:"8080" validate:"min=1,max=65535"`
	LogLevel string        `env:"LOG_LEVEL" envDefault:"info" validate:"oneof=debug|info|warn|error"`
	Timeout  time.Duration `env:"TIMEOUT" envDefault:"5s" validate:"min=1ms"`
	APIKey   string        `env:"API_KEY,required" secret:"true" validate:"min=16"`
	DB       struct {
		Host string `env:"HOST" envDefault:"localhost"`
		Port int    `env:"PORT" envDefault:"5432" validate:"min=1,max=65535"`
	} `envPrefix:"DB_"`
}

func ExampleLoad() {
	cfg, err := config.Load[exampleConfig](
		config.WithPrefix("APP_"),
		config.WithEnvironment(map[string]string{ // omit to read the process environment
			"APP_PORT":    "9090",
			"APP_API_KEY": "0123456789abcdef",
			"APP_DB_HOST": "db.internal",
		}),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Port, cfg.LogLevel, cfg.Timeout, cfg.DB.Host, cfg.DB.Port)
	// Output: 9090 info 5s db.internal 5432
}

func ExampleLoad_errors() {
	_, err := config.Load[exampleConfig](
		config.WithPrefix("APP_"),
		config.WithEnvironment(map[string]string{
			"APP_PORT":      "80a",
			"APP_LOG_LEVEL": "verbose",
			"APP_API_KEY":   "hunter2", // too short; the value is never printed
			"APP_DB_PORT":   "0",
		}),
	)
	fmt.Println(err)
	// Output:
	// config: 4 problems:
	// 	APP_PORT: "80a" is not a valid int: invalid syntax (field Port)
	// 	APP_LOG_LEVEL: "verbose" is not one of debug|info|warn|error (field LogLevel)
	// 	APP_API_KEY: length is less than min=16 (field APIKey)
	// 	APP_DB_PORT: 0 is less than min=1 (field DB.Port)
}
