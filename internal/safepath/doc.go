// Package safepath decides whether a request path is safe to serve and opens
// files only inside a content root.
//
// It is the one gate between a name chosen by a client (an HTTP request path
// or an object name received over the peer protocol) and the file system.
// The rules are deliberately stricter than what a file system accepts: a path
// that could mean something different to another parser, another operating
// system or another layer of decoding is refused, not repaired. Nothing is
// ever cleaned or redirected, so "/a/../b" is an error, not "/b".
//
// The caller must, in order:
//
//  1. Open the content root once with [os.OpenRoot] and keep it for the life
//     of the server. [os.Root] resolves every name relative to that directory
//     and refuses any symbolic link whose target leaves it.
//  2. Turn every HTTP request path into a relative path with [FromURL],
//     passing r.URL.EscapedPath() (the raw, still percent-encoded form), and
//     every peer-protocol object name with [Check].
//  3. Open files with [Open] and directories with [OpenDir], never with
//     os.Open on a joined path.
//  4. Map errors to HTTP statuses with [Status] and describe them to clients
//     only with [Message], which never contains file-system error text.
//
// Refused forms (see [FromURL] and [Check] for the exact list): a path not
// starting with "/"; percent-encoded '.', '/' or '\' (any case); NUL and
// every other control character, raw or encoded; a raw backslash; empty
// segments ("a//b", and a leading "//", which some parsers read as a host);
// "." and ".." segments; segments starting with "." (dot-files such as
// .git/config and .env are never served); a ':' in a segment (Windows drive
// and alternate-data-stream syntax); invalid UTF-8 after decoding; invalid
// percent-encoding; a path longer than [MaxPathLen] bytes or a segment longer
// than [MaxSegmentLen] bytes.
//
// Symbolic links: a relative link that stays inside the root is followed.
// A link whose target leaves the root, and every absolute link (even one
// that points back inside the root), is refused with 403 by [os.Root].
//
// Limits: the rules target POSIX file systems. On Windows, reserved device
// names (CON, NUL, ...) and trailing dots or spaces are not checked here;
// [os.Root] is the only defence there. Names are compared byte for byte: no
// Unicode normalization is done, so look-alike characters such as U+FF0E
// (fullwidth full stop) are ordinary characters in a name.
package safepath
