// Package conf parses the values that configure Aqueduct's roles from the
// command line and the environment: byte sizes, address lists, log
// settings.
package conf
