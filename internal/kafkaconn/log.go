package kafkaconn

import (
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Logger sends franz-go's logs to the pipeline's zap logger:
// kgo.WithLogger(kafkaconn.Logger{L: log}). franz-go's
// info messages (metadata refreshes, producer ids, new topics) are routine
// client chatter, so they go out at debug; its warnings and errors keep
// their level. franz-go logs no credentials.
type Logger struct{ L *zap.Logger }

func (z Logger) Level() kgo.LogLevel {
	core := z.L.Core()
	switch {
	case core.Enabled(zapcore.DebugLevel):
		return kgo.LogLevelInfo // franz-go's debug level is per-request noise
	case core.Enabled(zapcore.WarnLevel):
		return kgo.LogLevelWarn
	case core.Enabled(zapcore.ErrorLevel):
		return kgo.LogLevelError
	}
	return kgo.LogLevelNone
}

func (z Logger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	fields := make([]zap.Field, 0, len(keyvals)/2)
	for i := 0; i+1 < len(keyvals); i += 2 {
		k, _ := keyvals[i].(string)
		fields = append(fields, zap.Any(k, keyvals[i+1]))
	}
	switch level {
	case kgo.LogLevelError:
		z.L.Error(msg, fields...)
	case kgo.LogLevelWarn:
		z.L.Warn(msg, fields...)
	default:
		z.L.Debug(msg, fields...)
	}
}
