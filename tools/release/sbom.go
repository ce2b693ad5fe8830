package main

import (
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// archiveName is how .goreleaser.yaml names an archive:
// TOOL_VERSION_OS_ARCH.tar.gz (.zip on Windows).
var archiveName = regexp.MustCompile(`^(phantom|stack)_(.+)_(linux|darwin|windows)_(amd64|arm64)\.(tar\.gz|zip)$`)

// spdx* are the parts of an SPDX 2.3 JSON document this SBOM uses
// (spdx.github.io/spdx-spec/v2.3).
type spdxDoc struct {
	SPDXVersion       string             `json:"spdxVersion"`
	DataLicense       string             `json:"dataLicense"`
	SPDXID            string             `json:"SPDXID"`
	Name              string             `json:"name"`
	DocumentNamespace string             `json:"documentNamespace"`
	CreationInfo      spdxCreation       `json:"creationInfo"`
	Packages          []spdxPackage      `json:"packages"`
	Relationships     []spdxRelationship `json:"relationships"`
}

type spdxCreation struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type spdxPackage struct {
	Name             string         `json:"name"`
	SPDXID           string         `json:"SPDXID"`
	VersionInfo      string         `json:"versionInfo,omitempty"`
	DownloadLocation string         `json:"downloadLocation"`
	FilesAnalyzed    bool           `json:"filesAnalyzed"`
	Checksums        []spdxChecksum `json:"checksums,omitempty"`
	ExternalRefs     []spdxRef      `json:"externalRefs,omitempty"`
	PrimaryPurpose   string         `json:"primaryPackagePurpose,omitempty"`
}

type spdxChecksum struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"checksumValue"`
}

type spdxRef struct {
	Category string `json:"referenceCategory"`
	Type     string `json:"referenceType"`
	Locator  string `json:"referenceLocator"`
}

type spdxRelationship struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}

// writeSBOM writes an SPDX SBOM of the binary inside archive: the binary
// itself (its SHA-256), the Go standard library it was built with and every
// module the linker recorded (debug/buildinfo), as purls. The creation time
// is SOURCE_DATE_EPOCH (the commit's time, set by the Makefile) so that one
// commit gives one SBOM.
func writeSBOM(archive, document string) error {
	m := archiveName.FindStringSubmatch(filepath.Base(archive))
	if m == nil {
		return fmt.Errorf("%s: not named TOOL_VERSION_OS_ARCH.tar.gz|zip", archive)
	}
	tool, version, goos := m[1], m[2], m[3]
	exe := tool
	if goos == "windows" {
		exe += ".exe"
	}
	data, err := os.ReadFile(archive)
	if err != nil {
		return err
	}
	bin, err := readBinary(archive, data, exe)
	if err != nil {
		return err
	}
	bi, err := buildinfo.Read(bytes.NewReader(bin))
	if err != nil {
		return fmt.Errorf("%s: %s carries no Go build information: %w", archive, exe, err)
	}
	created := time.Now().UTC()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds", s)
		}
		created = time.Unix(sec, 0).UTC()
	}
	binSum := sha256.Sum256(bin)
	archSum := sha256.Sum256(data)
	doc := spdxDoc{
		SPDXVersion:       "SPDX-2.3",
		DataLicense:       "CC0-1.0",
		SPDXID:            "SPDXRef-DOCUMENT",
		Name:              filepath.Base(archive),
		DocumentNamespace: "https://phantomstack.dev/spdx/" + filepath.Base(archive) + "-" + hex.EncodeToString(archSum[:]),
		CreationInfo: spdxCreation{
			Created:  created.Format(time.RFC3339),
			Creators: []string{"Tool: phantomstack-tools-release", "Organization: phantomstack"},
		},
	}
	mainID := "SPDXRef-Package-" + tool
	doc.Packages = append(doc.Packages, spdxPackage{
		Name: exe, SPDXID: mainID, VersionInfo: version, DownloadLocation: "NOASSERTION",
		Checksums:      []spdxChecksum{{"SHA256", hex.EncodeToString(binSum[:])}},
		ExternalRefs:   []spdxRef{purl(bi.Main.Path, "v"+version)},
		PrimaryPurpose: "APPLICATION",
	})
	doc.Relationships = append(doc.Relationships, spdxRelationship{"SPDXRef-DOCUMENT", "DESCRIBES", mainID})
	add := func(id, name, ver string, ref spdxRef) {
		doc.Packages = append(doc.Packages, spdxPackage{
			Name: name, SPDXID: id, VersionInfo: ver, DownloadLocation: "NOASSERTION",
			ExternalRefs: []spdxRef{ref}, PrimaryPurpose: "LIBRARY",
		})
		doc.Relationships = append(doc.Relationships, spdxRelationship{mainID, "DEPENDS_ON", id})
	}
	add("SPDXRef-Package-stdlib", "stdlib", bi.GoVersion, purl("stdlib", bi.GoVersion))
	for i, d := range bi.Deps {
		if d.Replace != nil { // what was linked is the replacement
			d = d.Replace
		}
		add(fmt.Sprintf("SPDXRef-Package-dep-%d", i), d.Path, d.Version, purl(d.Path, d.Version))
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(document, append(out, '\n'), 0o644)
}

// purl is a Go package URL (github.com/package-url/purl-spec, type golang).
func purl(path, version string) spdxRef {
	loc := "pkg:golang/" + path
	if version != "" && version != "(devel)" {
		loc += "@" + strings.ReplaceAll(version, "+", "%2B")
	}
	return spdxRef{"PACKAGE-MANAGER", "purl", loc}
}
