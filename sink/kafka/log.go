package kafka

import (
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// zapLogger sends franz-go's logs to the pipeline's zap logger. franz-go
// logs no credentials, so nothing is filtered.
type zapLogger struct{ l *zap.Logger }

func (z zapLogger) Level() kgo.LogLevel {
	switch {
	case z.l.Core().Enabled(zapcore.DebugLevel):
		return kgo.LogLevelDebug
	case z.l.Core().Enabled(zapcore.InfoLevel):
		return kgo.LogLevelInfo
	case z.l.Core().Enabled(zapcore.WarnLevel):
		return kgo.LogLevelWarn
	case z.l.Core().Enabled(zapcore.ErrorLevel):
		return kgo.LogLevelError
	}
	return kgo.LogLevelNone
}

func (z zapLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	fields := make([]zap.Field, 0, len(keyvals)/2)
	for i := 0; i+1 < len(keyvals); i += 2 {
		k, _ := keyvals[i].(string)
		fields = append(fields, zap.Any(k, keyvals[i+1]))
	}
	switch level {
	case kgo.LogLevelError:
		z.l.Error(msg, fields...)
	case kgo.LogLevelWarn:
		z.l.Warn(msg, fields...)
	case kgo.LogLevelInfo:
		z.l.Info(msg, fields...)
	default:
		z.l.Debug(msg, fields...)
	}
}
