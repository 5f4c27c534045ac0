// Command tfcompat reads and writes Terraform's state lock body exactly as
// Terraform does, using only Go's standard library, so tflock's tests can check
// that a lock tflock writes is one plain Terraform understands, and can plant a
// lock that plain Terraform would have written.
//
// Usage:
//
//	tfcompat parse [--allow-empty-id] [FILE]
//	    Read a lock body from FILE (or standard input when FILE is absent or
//	    "-") and decode it with json.Unmarshal into a struct with the same
//	    field names and types as Terraform's statemgr.LockInfo, as Terraform's
//	    S3 backend does. On success print "ok" and then the "Lock Info:" block
//	    Terraform prints for this lock, line for line:
//
//	        ok
//	        Lock Info:
//	          ID:        <ID>
//	          Path:      <Path>
//	          Operation: <Operation>
//	          Who:       <Who>
//	          Version:   <Version>
//	          Created:   <Created, formatted by time.Time.String>
//	          Info:      <Info>
//
//	    and exit 0. If decoding fails, or ID is empty (Terraform gives up on
//	    such a lock without retrying, and force-unlock cannot name it), print
//	    "error: <message>" and exit 1. --allow-empty-id accepts an empty ID
//	    (Terraform still prints the Lock Info block for it).
//
//	tfcompat marshal [--operation OP] [--version V] [--path BUCKET/KEY]
//	                 [--who USER@HOST] [--info TEXT] [--id ID] [--created RFC3339]
//	    Build a lock the way Terraform's NewLockInfo and S3 Lock do (a random
//	    ID of 16 bytes from math/rand formatted 8-4-4-4-12, Who =
//	    user@hostname, Created = now in UTC, Info empty) and print
//	    json.Marshal of it: the exact bytes Terraform PUTs, no newline added.
//	    Defaults: --operation OperationTypeApply, --version 1.11.4.
//
//	tfcompat tofu-remarshal [FILE]
//	    Read a DynamoDB item's Info string from FILE (or standard input),
//	    json.Unmarshal it into a struct shaped like OpenTofu's
//	    statemgr.LockInfo and print json.Marshal of that struct, no newline
//	    added: the ":info" value OpenTofu's unlock deletes the item with
//	    (ConditionExpression "Info = :info"). The delete matches only when
//	    these bytes equal the item's Info exactly. If decoding fails, print
//	    "error: <message>" and exit 1.
//
// Exit status: 0 success, 1 the body is rejected, 2 usage or I/O error.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/user"
	"strings"
	"time"
)

// LockInfo has the field names, types and (absent) tags of Terraform's
// internal/states/statemgr.LockInfo, in the same order, so encoding/json
// treats both alike: keys in this order, matched case-insensitively on input,
// unknown keys ignored, Created as RFC 3339 with nanoseconds.
type LockInfo struct {
	ID        string
	Operation string
	Info      string
	Who       string
	Version   string
	Created   time.Time
	Path      string
}

// TofuLockInfo is shaped like OpenTofu's statemgr.LockInfo: the same seven
// fields, types and order, each tagged with its own name (no omitempty), so
// json.Marshal writes the keys in this order, Created as RFC 3339 with
// nanoseconds (trailing zeros trimmed) and strings with Go's escapes
// (\u003c, \u003e, \u0026, \u2028, \u2029, invalid UTF-8 as \ufffd).
type TofuLockInfo struct {
	ID        string    `json:"ID"`
	Operation string    `json:"Operation"`
	Info      string    `json:"Info"`
	Who       string    `json:"Who"`
	Version   string    `json:"Version"`
	Created   time.Time `json:"Created"`
	Path      string    `json:"Path"`
}

// describe renders the "Lock Info:" block in the layout Terraform's
// LockInfo.String uses; Created goes through time.Time's String method.
func (l *LockInfo) describe() string {
	var b strings.Builder
	b.WriteString("Lock Info:\n")
	fmt.Fprintf(&b, "  %-11s%s\n", "ID:", l.ID)
	fmt.Fprintf(&b, "  %-11s%s\n", "Path:", l.Path)
	fmt.Fprintf(&b, "  %-11s%s\n", "Operation:", l.Operation)
	fmt.Fprintf(&b, "  %-11s%s\n", "Who:", l.Who)
	fmt.Fprintf(&b, "  %-11s%s\n", "Version:", l.Version)
	fmt.Fprintf(&b, "  %-11s%s\n", "Created:", l.Created.String())
	fmt.Fprintf(&b, "  %-11s%s\n", "Info:", l.Info)
	return b.String()
}

func usage() {
	fmt.Fprint(os.Stderr, `usage: tfcompat parse [--allow-empty-id] [FILE]
       tfcompat marshal [--operation OP] [--version V] [--path BUCKET/KEY]
                        [--who USER@HOST] [--info TEXT] [--id ID] [--created RFC3339]
       tfcompat tofu-remarshal [FILE]
`)
	os.Exit(2)
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "tfcompat: "+format+"\n", args...)
	os.Exit(2)
}

func readInput(args []string) []byte {
	if len(args) > 1 {
		usage()
	}
	var data []byte
	var err error
	if len(args) == 0 || args[0] == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(args[0])
	}
	if err != nil {
		fail("cannot read the lock body: %v", err)
	}
	return data
}

func parse(args []string) {
	fs := flag.NewFlagSet("parse", flag.ContinueOnError)
	allowEmpty := fs.Bool("allow-empty-id", false, "accept a lock whose ID is empty")
	fs.Usage = usage
	if err := fs.Parse(args); err != nil {
		usage()
	}
	data := readInput(fs.Args())

	// As Terraform's S3 backend reads a lock file: the whole body, one
	// json.Unmarshal into a zero LockInfo.
	info := &LockInfo{}
	if err := json.Unmarshal(data, info); err != nil {
		fmt.Printf("error: %s\n", terraformWording(err))
		os.Exit(1)
	}
	if info.ID == "" && !*allowEmpty {
		fmt.Println("error: the lock has an empty ID")
		os.Exit(1)
	}
	fmt.Print("ok\n" + info.describe())
}

// terraformWording returns err as Terraform's own build reports it. Terraform
// is built with Go 1.20 or later, whose time.Time.UnmarshalJSON strips the
// quotes before parsing (and names a value that is not a JSON string), while
// Go 1.19 parses the quoted text; and the struct lives in package statemgr.
// The set of bodies accepted or rejected is the same; only wording differs.
func terraformWording(err error) string {
	var perr *time.ParseError
	if errors.As(err, &perr) {
		// Go 1.19 parsed the whole JSON literal; it is in perr.Value.
		raw := perr.Value
		if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
			return "Time.UnmarshalJSON: input is not a JSON string"
		}
		if _, terr := time.Parse(time.RFC3339, raw[1:len(raw)-1]); terr != nil {
			return terr.Error()
		}
	}
	return strings.ReplaceAll(err.Error(), "main.LockInfo", "statemgr.LockInfo")
}

// newID makes an ID the way Terraform's NewLockInfo does: 16 bytes from a
// math/rand source seeded with the current time in nanoseconds, printed as
// lowercase hex in groups of 4-2-2-2-6 bytes (no UUID version bits).
func newID() string {
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	buf := make([]byte, 16)
	rng.Read(buf)
	return fmt.Sprintf("%x-%x-%x-%x-%x", buf[0:4], buf[4:6], buf[6:8], buf[8:10], buf[10:16])
}

func defaultWho() string {
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s@%s", name, host)
}

func marshal(args []string) {
	fs := flag.NewFlagSet("marshal", flag.ContinueOnError)
	operation := fs.String("operation", "OperationTypeApply", "the Operation field")
	version := fs.String("version", "1.11.4", "the Terraform version")
	path := fs.String("path", "", "the Path field: BUCKET/STATE-KEY")
	who := fs.String("who", "", "the Who field (default user@hostname)")
	infoText := fs.String("info", "", "the Info field (empty from the CLI)")
	id := fs.String("id", "", "the ID (default: random, as Terraform)")
	created := fs.String("created", "", "the Created time, RFC 3339 (default: now)")
	fs.Usage = usage
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		usage()
	}

	info := &LockInfo{
		ID:        newID(),
		Operation: *operation,
		Info:      *infoText,
		Who:       defaultWho(),
		Version:   *version,
		Created:   time.Now().UTC(),
		Path:      *path,
	}
	if *id != "" {
		info.ID = *id
	}
	if *who != "" {
		info.Who = *who
	}
	if *created != "" {
		t, err := time.Parse(time.RFC3339Nano, *created)
		if err != nil {
			fail("--created: %v", err)
		}
		info.Created = t.UTC()
	}

	js, err := json.Marshal(info)
	if err != nil {
		fail("json.Marshal: %v", err)
	}
	if _, err := os.Stdout.Write(js); err != nil {
		fail("cannot write: %v", err)
	}
}

// tofuRemarshal prints OpenTofu's re-serialisation of an item's Info: what
// its unlock compares the stored Info with.
func tofuRemarshal(args []string) {
	data := readInput(args)
	info := &TofuLockInfo{}
	if err := json.Unmarshal(data, info); err != nil {
		fmt.Printf("error: %v\n", err)
		os.Exit(1)
	}
	js, err := json.Marshal(info)
	if err != nil {
		fail("json.Marshal: %v", err)
	}
	if _, err := os.Stdout.Write(js); err != nil {
		fail("cannot write: %v", err)
	}
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "parse":
		parse(os.Args[2:])
	case "marshal":
		marshal(os.Args[2:])
	case "tofu-remarshal":
		tofuRemarshal(os.Args[2:])
	default:
		usage()
	}
}
