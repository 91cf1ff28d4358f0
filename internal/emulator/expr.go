package emulator

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// This file implements UpdateExpression: SET (with +, -, if_not_exists and
// list_append), REMOVE, ADD and DELETE, over nested paths (a.b[2].c) with
// ExpressionAttributeNames and ExpressionAttributeValues. Every operand is
// read from the item as it was before the update, as DynamoDB does.

type pathElem struct {
	name  string
	index int // used when name == ""
}

type operand struct {
	kind string // "value", "path", "if_not_exists", "list_append", "+", "-"
	val  types.AttributeValue
	path []pathElem
	args []*operand
}

type updateAction struct {
	verb string // SET, REMOVE, ADD, DELETE
	path []pathElem
	val  *operand
}

type exprParser struct {
	toks   []string
	pos    int
	names  map[string]string
	values ddbjson.Item
	used   map[string]bool
	// reserved are DynamoDB's reserved words, which need a #name alias.
	reserved map[string]bool
}

func tokenize(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case strings.IndexByte("=,.[]()+-", c) >= 0:
			toks = append(toks, string(c))
			i++
		case c == '#' || c == ':' || isIdent(c):
			j := i + 1
			for j < len(s) && isIdent(s[j]) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		default:
			return nil, fmt.Errorf("unexpected character %q", c)
		}
	}
	return toks, nil
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (p *exprParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *exprParser) next() string {
	t := p.peek()
	p.pos++
	return t
}

func (p *exprParser) expect(tok string) error {
	if got := p.next(); got != tok {
		return fmt.Errorf("expected %q, found %q", tok, got)
	}
	return nil
}

// parseUpdate parses a whole UpdateExpression.
func parseUpdate(expr string, names map[string]string, values ddbjson.Item, reserved map[string]bool) ([]updateAction, error) {
	toks, err := tokenize(expr)
	if err != nil {
		return nil, err
	}
	p := &exprParser{toks: toks, names: names, values: values, used: map[string]bool{}, reserved: reserved}
	var actions []updateAction
	seen := map[string]bool{}
	for p.peek() != "" {
		verb := strings.ToUpper(p.next())
		switch verb {
		case "SET", "REMOVE", "ADD", "DELETE":
		default:
			return nil, fmt.Errorf("expected SET, REMOVE, ADD or DELETE, found %q", verb)
		}
		if seen[verb] {
			return nil, fmt.Errorf("the %s section may appear only once", verb)
		}
		seen[verb] = true
		for {
			a := updateAction{verb: verb}
			if a.path, err = p.parsePath(); err != nil {
				return nil, err
			}
			switch verb {
			case "SET":
				if err := p.expect("="); err != nil {
					return nil, err
				}
				if a.val, err = p.parseValue(); err != nil {
					return nil, err
				}
			case "ADD", "DELETE":
				if a.val, err = p.parseOperand(); err != nil {
					return nil, err
				}
				if a.val.kind != "value" {
					return nil, fmt.Errorf("%s takes an expression attribute value", verb)
				}
			}
			actions = append(actions, a)
			if p.peek() != "," {
				break
			}
			p.next()
		}
	}
	for k := range values {
		if !p.used[k] {
			return nil, fmt.Errorf("value provided in ExpressionAttributeValues unused in expressions: keys: {%s}", k)
		}
	}
	return actions, nil
}

func (p *exprParser) parsePath() ([]pathElem, error) {
	name, err := p.parseName()
	if err != nil {
		return nil, err
	}
	path := []pathElem{{name: name}}
	for {
		switch p.peek() {
		case ".":
			p.next()
			if name, err = p.parseName(); err != nil {
				return nil, err
			}
			path = append(path, pathElem{name: name})
		case "[":
			p.next()
			n, err := strconv.Atoi(p.next())
			if err != nil || n < 0 {
				return nil, fmt.Errorf("bad list index in path")
			}
			if err := p.expect("]"); err != nil {
				return nil, err
			}
			path = append(path, pathElem{index: n})
		default:
			return path, nil
		}
	}
}

func (p *exprParser) parseName() (string, error) {
	t := p.next()
	switch {
	case strings.HasPrefix(t, "#"):
		n, ok := p.names[t]
		if !ok {
			return "", fmt.Errorf("an expression attribute name used in the document path is not defined; attribute name: %s", t)
		}
		return n, nil
	case t != "" && isIdent(t[0]):
		if p.reserved[strings.ToUpper(t)] {
			//lint:ignore ST1005 DynamoDB's own wording, which clients match
			return "", fmt.Errorf("Attribute name is a reserved keyword; reserved keyword: %s", t)
		}
		return t, nil
	}
	return "", fmt.Errorf("expected an attribute name, found %q", t)
}

func (p *exprParser) parseValue() (*operand, error) {
	a, err := p.parseOperand()
	if err != nil {
		return nil, err
	}
	if op := p.peek(); op == "+" || op == "-" {
		p.next()
		b, err := p.parseOperand()
		if err != nil {
			return nil, err
		}
		return &operand{kind: op, args: []*operand{a, b}}, nil
	}
	return a, nil
}

func (p *exprParser) parseOperand() (*operand, error) {
	t := p.peek()
	switch {
	case strings.HasPrefix(t, ":"):
		p.next()
		v, ok := p.values[t]
		if !ok {
			return nil, fmt.Errorf("an expression attribute value used in expression is not defined; attribute value: %s", t)
		}
		p.used[t] = true
		return &operand{kind: "value", val: v}, nil
	case strings.EqualFold(t, "if_not_exists") || strings.EqualFold(t, "list_append"):
		p.next()
		if err := p.expect("("); err != nil {
			return nil, err
		}
		o := &operand{kind: strings.ToLower(t)}
		if o.kind == "if_not_exists" {
			path, err := p.parsePath()
			if err != nil {
				return nil, err
			}
			o.args = append(o.args, &operand{kind: "path", path: path})
		} else {
			a, err := p.parseOperand()
			if err != nil {
				return nil, err
			}
			o.args = append(o.args, a)
		}
		if err := p.expect(","); err != nil {
			return nil, err
		}
		b, err := p.parseOperand()
		if err != nil {
			return nil, err
		}
		o.args = append(o.args, b)
		return o, p.expect(")")
	}
	path, err := p.parsePath()
	if err != nil {
		return nil, err
	}
	return &operand{kind: "path", path: path}, nil
}

// eval computes an operand against the item before the update.
func (o *operand) eval(item ddbjson.Item) (types.AttributeValue, error) {
	switch o.kind {
	case "value":
		return o.val, nil
	case "path":
		v := getPath(item, o.path)
		if v == nil {
			return nil, fmt.Errorf("the provided expression refers to an attribute that does not exist in the item")
		}
		return v, nil
	case "if_not_exists":
		if v := getPath(item, o.args[0].path); v != nil {
			return v, nil
		}
		return o.args[1].eval(item)
	case "list_append":
		a, err := o.args[0].eval(item)
		if err != nil {
			return nil, err
		}
		b, err := o.args[1].eval(item)
		if err != nil {
			return nil, err
		}
		la, okA := a.(*types.AttributeValueMemberL)
		lb, okB := b.(*types.AttributeValueMemberL)
		if !okA || !okB {
			return nil, fmt.Errorf("incorrect operand type for operator or function; operator or function: list_append")
		}
		out := append(append([]types.AttributeValue{}, la.Value...), lb.Value...)
		return &types.AttributeValueMemberL{Value: out}, nil
	case "+", "-":
		a, err := o.args[0].eval(item)
		if err != nil {
			return nil, err
		}
		b, err := o.args[1].eval(item)
		if err != nil {
			return nil, err
		}
		return addNumbers(a, b, o.kind == "-")
	}
	return nil, fmt.Errorf("unknown operand %q", o.kind)
}

// addNumbers computes a+b or a-b exactly.
func addNumbers(a, b types.AttributeValue, minus bool) (types.AttributeValue, error) {
	na, okA := a.(*types.AttributeValueMemberN)
	nb, okB := b.(*types.AttributeValueMemberN)
	if !okA || !okB {
		return nil, fmt.Errorf("incorrect operand type for operator or function; operator: +/-")
	}
	ra, _ := new(big.Rat).SetString(na.Value)
	rb, _ := new(big.Rat).SetString(nb.Value)
	if ra == nil || rb == nil {
		return nil, fmt.Errorf("invalid number")
	}
	if minus {
		rb.Neg(rb)
	}
	sum := new(big.Rat).Add(ra, rb)
	prec := max(fracDigits(na.Value), fracDigits(nb.Value))
	out, err := ddbjson.NormalizeNumber(sum.FloatString(prec))
	if err != nil {
		return nil, err
	}
	return &types.AttributeValueMemberN{Value: out}, nil
}

// fracDigits counts the digits after the point of a normalized number.
func fracDigits(n string) int {
	if i := strings.IndexByte(n, '.'); i >= 0 {
		return len(n) - i - 1
	}
	return 0
}
