// slowsync mounts a directory through FUSE unchanged except that every file
// fsync/fdatasync costs at least -delay, one at a time for the whole mount.
//
// Why: bench/run-cluster.sh compares the cluster's small-PUT rate with the
// disk's single-writer fsync rate. A VM's virtual disk may acknowledge a
// flush from the host's page cache (this 2-core VM measured 7,200 fsync/s),
// and then the comparison measures CPU, not flushes. Over slowsync, fio and
// every store in the run see one disk whose flushes cost what a real device's
// do (about 0.1-0.5 ms on an SSD with power-loss protection, 1-3 ms on one
// without, 5-10 ms on a spinning disk), serialised as on one device queue.
//
//	slowsync -delay 2ms BACKING_DIR MOUNTPOINT   (unmounts on SIGTERM/SIGINT)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

var (
	delay   = flag.Duration("delay", 2*time.Millisecond, "minimum time of one fsync")
	flushMu sync.Mutex // one flush at a time: a single device queue
	flushes uint64
)

func slowFlush(inner func() syscall.Errno) syscall.Errno {
	flushMu.Lock()
	defer flushMu.Unlock()
	start := time.Now()
	errno := inner()
	if rest := *delay - time.Since(start); rest > 0 {
		time.Sleep(rest)
	}
	flushes++
	return errno
}

// node is the loopback node with its files wrapped.
type node struct{ fs.LoopbackNode }

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, fl, errno := n.LoopbackNode.Open(ctx, flags)
	if errno != 0 {
		return nil, 0, errno
	}
	return &file{fh}, fl, 0
}

func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	inode, fh, fl, errno := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	return inode, &file{fh}, fl, 0
}

// Getxattr answers ENOSYS, which the kernel remembers for the mount: it
// otherwise asks for security.capability before every write (to drop file
// capabilities), one round trip to this process per write even with
// passthrough on. Nothing on a bench disk uses extended attributes.
func (n *node) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return 0, syscall.ENOSYS
}

// file forwards every operation to the loopback file; Fsync is slowed.
type file struct{ inner fs.FileHandle }

// PassthroughFd lets the kernel (6.9+, as root) do reads and writes on the
// backing file directly: without it every write crosses this process twice,
// and on a 2-core machine that CPU showed up in the figures. Flushes still
// come here (FUSE_FSYNC), which is the one thing slowed.
func (f *file) PassthroughFd() (int, bool) {
	return f.inner.(fs.FilePassthroughFder).PassthroughFd()
}

func (f *file) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	return slowFlush(func() syscall.Errno { return f.inner.(fs.FileFsyncer).Fsync(ctx, flags) })
}
func (f *file) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	return f.inner.(fs.FileReader).Read(ctx, dest, off)
}
func (f *file) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	return f.inner.(fs.FileWriter).Write(ctx, data, off)
}
func (f *file) Flush(ctx context.Context) syscall.Errno {
	return f.inner.(fs.FileFlusher).Flush(ctx)
}
func (f *file) Release(ctx context.Context) syscall.Errno {
	return f.inner.(fs.FileReleaser).Release(ctx)
}
func (f *file) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	return f.inner.(fs.FileGetattrer).Getattr(ctx, out)
}
func (f *file) Setattr(ctx context.Context, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return f.inner.(fs.FileSetattrer).Setattr(ctx, in, out)
}
func (f *file) Lseek(ctx context.Context, off uint64, whence uint32) (uint64, syscall.Errno) {
	return f.inner.(fs.FileLseeker).Lseek(ctx, off, whence)
}
func (f *file) Allocate(ctx context.Context, off, size uint64, mode uint32) syscall.Errno {
	return f.inner.(fs.FileAllocater).Allocate(ctx, off, size, mode)
}

func main() {
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: slowsync [-delay 2ms] BACKING_DIR MOUNTPOINT")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 2 {
		flag.Usage()
		os.Exit(2)
	}
	backing, mnt := flag.Arg(0), flag.Arg(1)
	var st syscall.Stat_t
	if err := syscall.Stat(backing, &st); err != nil {
		fmt.Fprintf(os.Stderr, "slowsync: %s: %v\n", backing, err)
		os.Exit(1)
	}
	root := &fs.LoopbackRoot{Path: backing, Dev: uint64(st.Dev)}
	root.NewNode = func(r *fs.LoopbackRoot, _ *fs.Inode, _ string, _ *syscall.Stat_t) fs.InodeEmbedder {
		return &node{fs.LoopbackNode{RootData: r}}
	}
	root.RootNode = root.NewNode(root, nil, "", &st)
	second := time.Second
	server, err := fs.Mount(mnt, root.RootNode, &fs.Options{
		EntryTimeout: &second,
		AttrTimeout:  &second,
		MountOptions: fuse.MountOptions{FsName: backing, Name: "slowsync"},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "slowsync: mount %s: %v\n", mnt, err)
		os.Exit(1)
	}
	fmt.Printf("mounted: %s over %s, fsync >= %v\n", mnt, backing, *delay)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1)
	go func() {
		for sig := range stop {
			if sig == syscall.SIGUSR1 { // a reading for a benchmark phase
				flushMu.Lock()
				fmt.Printf("fsyncs: %d\n", flushes)
				flushMu.Unlock()
				continue
			}
			if err := server.Unmount(); err != nil {
				fmt.Fprintf(os.Stderr, "slowsync: unmount %s: %v\n", mnt, err)
			}
			return
		}
	}()
	server.Wait()
	flushMu.Lock()
	fmt.Printf("unmounted: %d fsyncs\n", flushes)
	flushMu.Unlock()
}
