package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
)

// model is the part of an AWS service model (service-2.json) the generator
// reads. Anything it does not understand makes it fail rather than guess.
type model struct {
	Version    string              `json:"version"`
	Metadata   metadata            `json:"metadata"`
	Operations map[string]*opDef   `json:"operations"`
	Shapes     map[string]*shape   `json:"shapes"`
	Docs       string              `json:"documentation"`
	Pages      map[string]*pageDef `json:"-"`
}

type metadata struct {
	APIVersion      string `json:"apiVersion"`
	JSONVersion     string `json:"jsonVersion"`
	Protocol        string `json:"protocol"`
	ServiceFullName string `json:"serviceFullName"`
	ServiceID       string `json:"serviceId"`
	SigningName     string `json:"signingName"`
	TargetPrefix    string `json:"targetPrefix"`
	UID             string `json:"uid"`
}

type opDef struct {
	Name string `json:"name"`
	HTTP struct {
		Method     string `json:"method"`
		RequestURI string `json:"requestUri"`
	} `json:"http"`
	Input             *ref   `json:"input"`
	Output            *ref   `json:"output"`
	Errors            []ref  `json:"errors"`
	Docs              string `json:"documentation"`
	Deprecated        bool   `json:"deprecated"`
	DeprecatedMessage string `json:"deprecatedMessage"`
}

type ref struct {
	Shape             string `json:"shape"`
	Docs              string `json:"documentation"`
	Deprecated        bool   `json:"deprecated"`
	DeprecatedMessage string `json:"deprecatedMessage"`
	// Features the generator does not support; present means failure.
	TimestampFormat  string `json:"timestampFormat"`
	JSONValue        bool   `json:"jsonvalue"`
	IdempotencyToken bool   `json:"idempotencyToken"`
	LocationName     string `json:"locationName"`
}

type shape struct {
	Type      string       `json:"type"`
	Members   members      `json:"members"`
	Required  []string     `json:"required"`
	Member    *ref         `json:"member"`
	Key       *ref         `json:"key"`
	Value     *ref         `json:"value"`
	Enum      []string     `json:"enum"`
	Min       *json.Number `json:"min"`
	Max       *json.Number `json:"max"`
	Pattern   string       `json:"pattern"`
	Exception bool         `json:"exception"`
	Fault     bool         `json:"fault"`
	Error     *struct {
		Code           string `json:"code"`
		HTTPStatusCode int    `json:"httpStatusCode"`
		SenderFault    bool   `json:"senderFault"`
	} `json:"error"`
	Docs            string `json:"documentation"`
	Deprecated      bool   `json:"deprecated"`
	TimestampFormat string `json:"timestampFormat"`
	Sensitive       bool   `json:"sensitive"`
	Document        bool   `json:"document"`
	Union           bool   `json:"union"`
}

// members keeps structure members in model order (struct fields and
// violation messages follow it).
type members struct {
	Names []string
	Refs  map[string]*ref
}

func (m *members) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("members: want object")
	}
	m.Refs = map[string]*ref{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		name := t.(string)
		var r ref
		if err := dec.Decode(&r); err != nil {
			return fmt.Errorf("member %s: %w", name, err)
		}
		if _, dup := m.Refs[name]; dup {
			return fmt.Errorf("duplicate member %s", name)
		}
		m.Names = append(m.Names, name)
		m.Refs[name] = &r
	}
	_, err := dec.Token()
	return err
}

// pageDef is one entry of a paginators-1.json file.
type pageDef struct {
	InputToken       stringList `json:"input_token"`
	OutputToken      stringList `json:"output_token"`
	LimitKey         string     `json:"limit_key"`
	ResultKey        stringList `json:"result_key"`
	NonAggregateKeys stringList `json:"non_aggregate_keys"`
	MoreResults      string     `json:"more_results"`
}

// stringList is a JSON string or list of strings.
type stringList []string

func (s *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*s = many
	return nil
}

func loadModel(modelPath, pagesPath string) (*model, error) {
	b, err := os.ReadFile(modelPath)
	if err != nil {
		return nil, err
	}
	var m model
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", modelPath, err)
	}
	if pagesPath != "" {
		b, err := os.ReadFile(pagesPath)
		if err != nil {
			return nil, err
		}
		var p struct {
			Pagination map[string]*pageDef `json:"pagination"`
		}
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, fmt.Errorf("%s: %w", pagesPath, err)
		}
		m.Pages = p.Pagination
	}
	return &m, m.check()
}

// check rejects what the generator cannot represent faithfully.
func (m *model) check() error {
	if m.Metadata.Protocol != "json" {
		return fmt.Errorf("protocol %q: only AWS JSON (json) is supported", m.Metadata.Protocol)
	}
	if m.Metadata.TargetPrefix == "" {
		return fmt.Errorf("metadata.targetPrefix is missing")
	}
	checkRef := func(where string, r *ref) error {
		if r == nil {
			return nil
		}
		if _, ok := m.Shapes[r.Shape]; !ok {
			return fmt.Errorf("%s: unknown shape %q", where, r.Shape)
		}
		if r.TimestampFormat != "" || r.JSONValue || r.IdempotencyToken || r.LocationName != "" {
			return fmt.Errorf("%s: unsupported member trait (timestampFormat/jsonvalue/idempotencyToken/locationName)", where)
		}
		return nil
	}
	for name, op := range m.Operations {
		if op.Name != name {
			return fmt.Errorf("operation %s is named %q", name, op.Name)
		}
		if err := checkRef(name+" input", op.Input); err != nil {
			return err
		}
		if err := checkRef(name+" output", op.Output); err != nil {
			return err
		}
		for _, e := range op.Errors {
			if err := checkRef(name+" error", &e); err != nil {
				return err
			}
			if !m.Shapes[e.Shape].Exception {
				return fmt.Errorf("%s: error %s is not an exception shape", name, e.Shape)
			}
		}
	}
	for name, s := range m.Shapes {
		if s.TimestampFormat != "" || s.Document || s.Union {
			return fmt.Errorf("shape %s: unsupported trait (timestampFormat/document/union)", name)
		}
		switch s.Type {
		case "structure":
			for _, mn := range s.Members.Names {
				if err := checkRef(name+"."+mn, s.Members.Refs[mn]); err != nil {
					return err
				}
			}
			for _, r := range s.Required {
				if _, ok := s.Members.Refs[r]; !ok {
					return fmt.Errorf("shape %s: required member %s does not exist", name, r)
				}
			}
		case "list":
			if err := checkRef(name+".member", s.Member); err != nil {
				return err
			}
		case "map":
			if err := checkRef(name+".key", s.Key); err != nil {
				return err
			}
			if err := checkRef(name+".value", s.Value); err != nil {
				return err
			}
			if k := m.Shapes[s.Key.Shape]; k.Type != "string" {
				return fmt.Errorf("shape %s: map key must be a string", name)
			}
		case "string", "integer", "long", "boolean", "double", "float", "timestamp", "blob":
		default:
			return fmt.Errorf("shape %s: unsupported type %q", name, s.Type)
		}
		if s.Enum != nil && s.Type != "string" {
			return fmt.Errorf("shape %s: enum on %s", name, s.Type)
		}
	}
	for name, p := range m.Pages {
		if _, ok := m.Operations[name]; !ok {
			return fmt.Errorf("paginator for unknown operation %s", name)
		}
		if len(p.InputToken) != 1 || len(p.OutputToken) != 1 {
			return fmt.Errorf("paginator %s: multiple tokens are not supported", name)
		}
	}
	return nil
}
