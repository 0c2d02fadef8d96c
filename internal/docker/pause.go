package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
)

// The pause image holds a task's network namespace. Nothing can be pulled
// for it (portway runs offline), so it is imported from a tar made here:
// one static executable, /pause, that blocks in a loop and never exits on
// its own. As PID 1 of its container it ignores SIGTERM; removing the
// container with force (SIGKILL) ends it.

// pauseVersion changes when the program does.
const pauseVersion = "1"

// pauseImageRef is the pause image's reference for the daemon's
// architecture (GOARCH names).
func pauseImageRef(arch string) string { return "portway/pause:" + pauseVersion + "-" + arch }

// pauseCode is the machine code of the loop, per architecture.
var pauseCode = map[string]struct {
	machine uint16 // ELF e_machine
	code    []byte
}{
	// x86-64:
	//   loop: mov eax, 34   ; pause(2)
	//         syscall
	//         jmp loop      ; rel8 -9
	"amd64": {62, []byte{0xb8, 0x22, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xeb, 0xf7}},
	// AArch64 (no pause(2)): ppoll(NULL, 0, NULL, NULL, 0) waits forever.
	//   loop: movz x0, #0 ; movz x1, #0 ; movz x2, #0 ; movz x3, #0 ; movz x4, #0
	//         movz x8, #73  ; ppoll
	//         svc #0
	//         b loop        ; -7 instructions
	"arm64": {183, le32(0xd2800000, 0xd2800001, 0xd2800002, 0xd2800003, 0xd2800004, 0xd2800928, 0xd4000001, 0x17fffff9)},
}

func le32(words ...uint32) []byte {
	b := make([]byte, 4*len(words))
	for i, w := range words {
		binary.LittleEndian.PutUint32(b[4*i:], w)
	}
	return b
}

// pauseELF is a minimal static ELF64 executable for arch: the ELF header,
// one PT_LOAD program header mapping the whole file read+execute at
// 0x400000, and the code right after the headers (the entry point).
func pauseELF(arch string) ([]byte, error) {
	pc, ok := pauseCode[arch]
	if !ok {
		return nil, fmt.Errorf("no pause program for architecture %q (amd64 and arm64 only)", arch)
	}
	const (
		base    = 0x400000
		ehsize  = 64
		phsize  = 56
		codeOff = ehsize + phsize
	)
	size := uint64(codeOff + len(pc.code))
	var b bytes.Buffer
	w := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	// e_ident: magic, ELFCLASS64, ELFDATA2LSB, EV_CURRENT, SYSV ABI, padding.
	b.Write([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	w(uint16(2))              // e_type: ET_EXEC
	w(pc.machine)             // e_machine
	w(uint32(1))              // e_version
	w(uint64(base + codeOff)) // e_entry
	w(uint64(ehsize))         // e_phoff
	w(uint64(0))              // e_shoff: no sections
	w(uint32(0))              // e_flags
	w(uint16(ehsize))         // e_ehsize
	w(uint16(phsize))         // e_phentsize
	w(uint16(1))              // e_phnum
	w(uint16(0))              // e_shentsize
	w(uint16(0))              // e_shnum
	w(uint16(0))              // e_shstrndx
	w(uint32(1))              // p_type: PT_LOAD
	w(uint32(5))              // p_flags: PF_R|PF_X
	w(uint64(0))              // p_offset
	w(uint64(base))           // p_vaddr
	w(uint64(base))           // p_paddr
	w(size)                   // p_filesz
	w(size)                   // p_memsz
	w(uint64(0x1000))         // p_align
	b.Write(pc.code)
	return b.Bytes(), nil
}

// pauseTar is the pause image's root file system: /pause.
func pauseTar(arch string) ([]byte, error) {
	elf, err := pauseELF(arch)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	hdr := &tar.Header{Name: "pause", Mode: 0o555, Size: int64(len(elf)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(elf); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ensurePauseImage imports the pause image for the daemon's architecture
// unless it is there, and returns its reference.
func ensurePauseImage(ctx context.Context, cli *client.Client) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	v, err := cli.ServerVersion(ctx)
	if err != nil {
		return "", err
	}
	ref := pauseImageRef(v.Arch)
	if _, err := cli.ImageInspect(ctx, ref); err == nil {
		return ref, nil
	} else if !client.IsErrNotFound(err) {
		return "", err
	}
	data, err := pauseTar(v.Arch)
	if err != nil {
		return "", err
	}
	rc, err := cli.ImageImport(ctx, image.ImportSource{Source: bytes.NewReader(data), SourceName: "-"}, ref,
		image.ImportOptions{Changes: []string{`CMD ["/pause"]`}, Platform: "linux/" + v.Arch})
	if err != nil {
		return "", fmt.Errorf("import %s: %w", ref, err)
	}
	defer rc.Close()
	if err := readJSONStream(rc, io.Discard); err != nil {
		return "", fmt.Errorf("import %s: %w", ref, err)
	}
	return ref, nil
}
