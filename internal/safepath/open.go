package safepath

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// Open opens the regular file rel inside root for reading and returns it
// with its metadata (from the open descriptor, so it describes the file
// actually opened). The caller must close the file.
//
// rel must pass [Check]; it is checked again here. Symbolic links are
// followed only while they stay inside root (see package doc). The file is
// opened without blocking (O_NONBLOCK, O_NOCTTY on Unix), so a FIFO or a
// device planted in the root cannot hang the server; anything but a regular
// file is then refused.
//
// Errors: an *Error in every case a client caused, so [Status] maps them:
//   - 404, wrapping fs.ErrNotExist: rel does not exist, or a parent
//     is not a directory;
//   - 403, wrapping [ErrIsDir]: rel is a directory;
//   - 403: rel is not a regular file, is not readable (wraps
//     fs.ErrPermission), is a symbolic link loop, or leaves the root through
//     a symbolic link;
//   - 400: the rules of [Check], or a name the file system finds too long.
//
// Any other error (I/O failure, a closed root) is returned wrapped, not as
// an *Error; [Status] maps it to 500.
func Open(root *os.Root, rel string) (*os.File, fs.FileInfo, error) {
	if err := Check(rel); err != nil {
		return nil, nil, err
	}
	f, err := root.OpenFile(rel, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, nil, mapOpenError(err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("safepath: stat: %w", err)
	}
	switch {
	case fi.IsDir():
		f.Close()
		return nil, nil, &Error{Kind: Refused, Reason: "is a directory", Err: ErrIsDir}
	case !fi.Mode().IsRegular():
		f.Close()
		return nil, nil, forbidden("not a regular file")
	}
	return f, fi, nil
}

// OpenDir opens the directory rel inside root for listing; "" is the root
// itself. Otherwise rel must pass [Check]. The caller must close the
// directory, and must hide entries whose names fail [Check] (dot-files among
// them) from any listing it produces.
//
// Errors are those of [Open], except that a path naming something other than
// a directory gives a 404 *Error wrapping [ErrNotDir].
func OpenDir(root *os.Root, rel string) (*os.File, fs.FileInfo, error) {
	name := rel
	if rel == "" {
		name = "."
	} else if err := Check(rel); err != nil {
		return nil, nil, err
	}
	f, err := root.OpenFile(name, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, nil, mapOpenError(err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("safepath: stat: %w", err)
	}
	if !fi.IsDir() {
		f.Close()
		return nil, nil, &Error{Kind: Missing, Reason: "not a directory", Err: ErrNotDir}
	}
	return f, fi, nil
}

// mapOpenError turns an error from os.Root into an *Error where a client
// caused it.
func mapOpenError(err error) error {
	var errno syscall.Errno
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &Error{Kind: Missing, Reason: "no such file", Err: err}
	case errors.Is(err, fs.ErrPermission):
		return &Error{Kind: Refused, Reason: "permission denied", Err: err}
	case errors.Is(err, fs.ErrClosed):
		return fmt.Errorf("safepath: %w", err)
	case errors.As(err, &errno):
		switch errno {
		case syscall.ENOTDIR:
			// "file.mp4/x": a parent is not a directory.
			return &Error{Kind: Missing, Reason: "no such file", Err: fmt.Errorf("%w: %w", fs.ErrNotExist, err)}
		case syscall.ELOOP:
			return &Error{Kind: Refused, Reason: "too many levels of symbolic links", Err: err}
		case syscall.ENAMETOOLONG:
			return &Error{Kind: Malformed, Reason: "name too long", Err: err}
		}
		return fmt.Errorf("safepath: %w", err)
	}
	// The name passed Check, so it has no ".." and no leading slash: the only
	// error os.Root raises itself, rather than passing one up from the
	// kernel, is for a symbolic link that leaves the root ("path escapes
	// from parent"; the error value is not exported).
	return &Error{Kind: Refused, Reason: "path leaves the content root", Err: err}
}
