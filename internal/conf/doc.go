// Package conf is a node's configuration: its schema, its defaults, and how
// it is read from a YAML file, the environment and the command line, then
// checked.
//
// Every key (transfer.conns, cache.dir, ...) has one entry in a table that
// gives its flag (--conns), its environment variable (AQUEDUCT_ and the key
// in upper case, dots as underscores: AQUEDUCT_TRANSFER_CONNS), the roles
// that use it, its help and its field in [Config]. The flag set, the file
// reader, the environment and [Example] are all made from that table, so a
// key cannot exist in one and not the others, and each key is parsed the
// same way from each.
//
// [Default] is the one place where defaults are written down (values that a
// library package owns come from that package's constants). [Load] applies
// the layers in order: defaults, the file named by --config, the
// environment, the flags; then [Config.Validate] reports every mistake, each
// an [*Error] naming the key and where its value came from ("edge.yml:7:
// transfer.conns: "lots" is not a whole number", "upstreams: required: give
// --upstream ..."). Unknown keys in a file are errors with a suggestion;
// keys that another role uses are ignored and listed by [Config.Unused], so
// that one file can hold every key (examples/aqueduct.yml).
//
// The caller's duties, in order:
//
//  1. Make the flag set and register the role's flags with [NewFlags];
//     parse the command line.
//  2. Call [Load] with the role, the flags and os.LookupEnv.
//  3. Call [Config.LoadKey] to read the cluster key (key_file or
//     $AQUEDUCT_KEY), unless the key is set otherwise.
//  4. Log [Config.Unused] (package node does, at Info) and build the node.
//
// Paths in a file (key_file, cache.dir, origin.root, http.access_log) are
// relative to the working directory, as on the command line.
package conf
