package keyringstore

// secretServiceLimit is the largest value this package writes to one
// Secret Service entry (Linux and the BSDs). The Secret Service itself has
// no fixed limit, but services keep secrets in locked (non-swappable)
// memory of a limited size and send them in one D-Bus message, so larger
// tokens are split into entries of this size.
const secretServiceLimit = 16 << 10

func secretServiceEntryLimit(service, user string) int { return secretServiceLimit }
