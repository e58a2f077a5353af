package guard

// limiterScope is the instrumentation scope of the rate limiting metrics
// (chassis.ratelimit.decisions, counted by internal/ratecore, and the memory
// limiter's chassis.ratelimit.keys).
const limiterScope = "github.com/chassis-go/chassis/guard"
