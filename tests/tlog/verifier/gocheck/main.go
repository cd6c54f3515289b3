// Command gocheck verifies a campaign's transparency log with Go's own sumdb code
// (golang.org/x/mod/sumdb/note and sumdb/tlog), as an outside checker: glue only, no
// verification logic of its own. tests/tlog/verifier/test_go_checker.py builds and runs it.
//
//	gocheck open VKEY NOTEFILE        note.Open; prints "origin size root"
//	gocheck tiles PREFIX VKEY         every tile through tlog.TileHashReader, every
//	                                  entry bundle against the level-0 hashes
//	gocheck tree PREFIX VKEY OLDNOTE  tlog.CheckTree: the served consistency proof from
//	                                  the old checkpoint to the latest
//	gocheck record VKEY BUNDLEFILE    tlog.CheckRecord on a receipt's evidence bundle
package main

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const height = 8 // C2SP tlog-tiles

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "gocheck: "+format+"\n", args...)
	os.Exit(1)
}

func get(url string) []byte {
	resp, err := http.Get(url)
	if err != nil {
		fail("%v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		fail("%s: %s", url, resp.Status)
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		fail("%v", err)
	}
	return data
}

// open checks the note with note.Open and parses the C2SP checkpoint body.
func open(vkey string, msg []byte) (string, tlog.Tree) {
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		fail("verifier key: %v", err)
	}
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		fail("note.Open: %v", err)
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) < 4 {
		fail("not a checkpoint: %q", n.Text)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || strconv.FormatInt(size, 10) != lines[1] {
		fail("bad size line %q", lines[1])
	}
	root, err := tlog.ParseHash(lines[2])
	if err != nil {
		fail("bad root: %v", err)
	}
	return lines[0], tlog.Tree{N: size, Hash: root}
}

// tiles reads C2SP tile paths: Go's own path less its height element.
type tiles struct{ prefix string }

func (t tiles) Height() int { return height }

func (t tiles) ReadTiles(list []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(list))
	for i, tile := range list {
		path := "tile/" + strings.TrimPrefix(tile.Path(), fmt.Sprintf("tile/%d/", height))
		out[i] = get(t.prefix + path)
	}
	return out, nil
}

func (t tiles) SaveTiles([]tlog.Tile, [][]byte) {}

func checkpoint(prefix, vkey string) (string, tlog.Tree) {
	return open(vkey, get(prefix+"checkpoint"))
}

func checkTiles(prefix, vkey string) {
	_, tree := checkpoint(prefix, vkey)
	reader := tlog.TileHashReader(tree, tiles{prefix})
	indexes := make([]int64, tree.N)
	for i := range indexes {
		indexes[i] = tlog.StoredHashIndex(0, int64(i))
	}
	hashes, err := reader.ReadHashes(indexes)
	if err != nil {
		fail("TileHashReader: %v", err)
	}
	root, err := tlog.TreeHash(tree.N, reader)
	if err != nil || root != tree.Hash {
		fail("TreeHash: %v (%v != %v)", err, root, tree.Hash)
	}
	// Entry bundles: each entry is a big-endian uint16 length and its bytes.
	for start := int64(0); start < tree.N; start += 1 << height {
		tile := tlog.TileForIndex(height, tlog.StoredHashIndex(0, start))
		tile.L = 0
		width := tree.N - start
		if width > 1<<height {
			width = 1 << height
		}
		tile.W = int(width)
		path := "tile/entries/" + strings.TrimPrefix(tile.Path(), fmt.Sprintf("tile/%d/0/", height))
		data := get(prefix + path)
		for i := start; i < start+width; i++ {
			if len(data) < 2 {
				fail("bundle %s: short", path)
			}
			n := int(binary.BigEndian.Uint16(data))
			entry := data[2 : 2+n]
			data = data[2+n:]
			if tlog.RecordHash(entry) != hashes[i] {
				fail("entry %d does not hash to its leaf", i)
			}
		}
		if len(data) != 0 {
			fail("bundle %s: %d bytes too many", path, len(data))
		}
	}
	fmt.Printf("ok %d\n", tree.N)
}

func checkTree(prefix, vkey, oldFile string) {
	old, err := os.ReadFile(oldFile)
	if err != nil {
		fail("%v", err)
	}
	_, oldTree := open(vkey, old)
	_, tree := checkpoint(prefix, vkey)
	var proof tlog.TreeProof
	if oldTree.N < tree.N {
		url := fmt.Sprintf("%sproof/consistency/%d/%d", prefix, oldTree.N, tree.N)
		for _, line := range strings.Fields(string(get(url))) {
			h, err := tlog.ParseHash(line)
			if err != nil {
				fail("proof: %v", err)
			}
			proof = append(proof, h)
		}
	}
	if err := tlog.CheckTree(proof, tree.N, tree.Hash, oldTree.N, oldTree.Hash); err != nil {
		fail("CheckTree %d -> %d: %v", oldTree.N, tree.N, err)
	}
	fmt.Printf("ok %d %d\n", oldTree.N, tree.N)
}

type bundle struct {
	Checkpoint string   `json:"checkpoint"`
	Index      int64    `json:"index"`
	Entry      string   `json:"entry"`
	Proof      []string `json:"inclusion_proof"`
}

func checkRecord(vkey, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		fail("%v", err)
	}
	var b bundle
	if err := json.Unmarshal(data, &b); err != nil {
		fail("bundle: %v", err)
	}
	_, tree := open(vkey, []byte(b.Checkpoint))
	entry, err := base64.StdEncoding.DecodeString(b.Entry)
	if err != nil {
		fail("entry: %v", err)
	}
	var proof tlog.RecordProof
	for _, p := range b.Proof {
		h, err := tlog.ParseHash(p)
		if err != nil {
			fail("proof: %v", err)
		}
		proof = append(proof, h)
	}
	if err := tlog.CheckRecord(proof, tree.N, tree.Hash, b.Index, tlog.RecordHash(entry)); err != nil {
		fail("CheckRecord: %v", err)
	}
	fmt.Printf("ok %d %d\n", b.Index, tree.N)
}

func main() {
	args := os.Args[1:]
	switch {
	case len(args) == 3 && args[0] == "open":
		msg, err := os.ReadFile(args[2])
		if err != nil {
			fail("%v", err)
		}
		origin, tree := open(args[1], msg)
		fmt.Printf("%s %d %s\n", origin, tree.N, tree.Hash)
	case len(args) == 3 && args[0] == "tiles":
		checkTiles(args[1], args[2])
	case len(args) == 4 && args[0] == "tree":
		checkTree(args[1], args[2], args[3])
	case len(args) == 3 && args[0] == "record":
		checkRecord(args[1], args[2])
	default:
		fail("usage: see the comment at the top of main.go")
	}
}
