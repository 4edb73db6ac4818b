package keyringstore

// winCredLimit is the largest credential blob the Windows Credential
// Manager keeps (CRED_MAX_CREDENTIAL_BLOB_SIZE, 5 × 512 bytes), which
// go-keyring enforces.
const winCredLimit = 2560

func winCredEntryLimit(service, user string) int { return winCredLimit }
