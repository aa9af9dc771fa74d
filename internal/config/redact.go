package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"reflect"
	"strings"
	"time"
)

// Redacted replaces a secret that is set when the configuration is printed.
// An unset secret stays empty so operators can see whether one is configured.
const Redacted = "[REDACTED]"

// plain has Config's fields but none of its methods, so formatting it does not
// recurse into String/GoString/MarshalJSON.
type plain Config

// redacted returns a copy of c that is safe to print.
func (c Config) redacted() plain {
	if c.AdminSecretAccessKey != "" {
		c.AdminSecretAccessKey = Redacted
	}
	c.Metadata = redactURL(c.Metadata)
	c.Blobs = redactURL(c.Blobs)
	return plain(c)
}

// redactURL hides the password of a store URL and any secret query
// parameters.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || s == "" {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), Redacted)
	}
	q := u.Query()
	for k := range q {
		if lk := strings.ToLower(k); strings.Contains(lk, "secret") || strings.Contains(lk, "password") || strings.Contains(lk, "token") {
			q.Set(k, Redacted)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// String formats c like %+v with the secret redacted. It is also what %v, %s
// and %q print.
func (c Config) String() string {
	return fmt.Sprintf("%+v", c.redacted())
}

// GoString implements fmt.GoStringer (%#v) with the secret redacted.
func (c Config) GoString() string {
	s := fmt.Sprintf("%#v", c.redacted())
	return "config.Config" + strings.TrimPrefix(s, "config.plain")
}

// LogValue implements slog.LogValuer: every field keyed by its YAML name, the
// secret redacted.
func (c Config) LogValue() slog.Value {
	p := c.redacted()
	v := reflect.ValueOf(p)
	t := v.Type()
	attrs := make([]slog.Attr, 0, t.NumField())
	for i := range t.NumField() {
		key, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		f := v.Field(i)
		switch x := f.Interface().(type) {
		case string:
			attrs = append(attrs, slog.String(key, x))
		case bool:
			attrs = append(attrs, slog.Bool(key, x))
		case time.Duration:
			attrs = append(attrs, slog.Duration(key, x))
		case int64:
			attrs = append(attrs, slog.Int64(key, x))
		default:
			attrs = append(attrs, slog.Any(key, x))
		}
	}
	return slog.GroupValue(attrs...)
}

// MarshalJSON encodes c with the secret redacted, so dumping the effective
// configuration as JSON cannot leak it either.
func (c Config) MarshalJSON() ([]byte, error) {
	return json.Marshal(c.redacted())
}

// MarshalYAML implements yaml.Marshaler with the secret redacted.
func (c Config) MarshalYAML() (any, error) {
	return c.redacted(), nil
}
