// Package keyringstore keeps an OAuth token of an [authtransport.Transport]
// in the operating system's keychain: the Secret Service on Linux (GNOME
// Keyring, KWallet, KeePassXC), the login keychain on macOS, the Credential
// Manager on Windows. It is a [authtransport.LockingStore] with a
// cross-process lock, so that several copies of a command-line tool that
// find the token expired at the same moment refresh it once, and it never
// falls back to another store unless asked to, and then says so every time.
//
//	store, err := keyringstore.New(keyringstore.Config{Service: "mycli", Account: user})
//	client := &http.Client{Transport: &authtransport.Transport{Store: store, Refresher: refresher}}
//
// # Entries and sizes
//
// Keychains limit the size of one entry: go-keyring, through which this
// package reaches the macOS keychain and the Windows Credential Manager,
// refuses values above about 3 KB on macOS (the limit depends on the
// length of the service and account names) and 2560 bytes on Windows, and
// a token with a JWT access token or an ID token is often larger. On Linux
// the package talks to the Secret Service over D-Bus itself (godbus), and
// writes at most 16 KiB to one entry.
//
// The token, encoded as JSON, lives in the entry named by Service and
// Account (the head). When it fits, the head holds it:
// {"version":1,"token":{...}}. Otherwise the token is split into parts,
// each in an entry of its own named <Account>#<generation>.<n>, and the
// head names the generation, the number of parts, and the size and SHA-256
// of their concatenation. A Save writes the parts of a new, random
// generation first, then switches the head to it (one write of one entry,
// which keychains make atomic), then deletes the parts of the old
// generation. A reader that finds a part missing or the parts not matching
// the head has been overtaken by a writer: it reads the head again, up to
// ten times. So a reader sees the old token or the new one, never a mix.
// Tokens of up to 1 MiB are kept.
//
// A writer killed between writing the parts and switching the head leaves
// parts behind that no head names; they hold a token that was never
// used, and can be deleted with a keychain browser.
//
// # Locking
//
// [Store.Lock] takes an exclusive lock on a file, by default
// keyring-<Account>.lock in the directory <Service> under
// [os.UserConfigDir] (flock(2) on Unix, LockFileEx on Windows, through
// gofrs/flock), which the operating system releases when the holder dies.
// A [authtransport.Transport] refreshes under it: lock, reload, refresh only
// if the stored token is still the one it wants to replace, save, unlock.
// Keychains have no lock of their own.
//
// # Unavailable keychains and the fallback
//
// A server, a container or an SSH session often has no keychain: on Linux,
// no D-Bus session bus or no Secret Service on it; or the keychain is
// there but locked and no unlock prompt can be shown. Operations then fail
// with a [*NoKeyringError] or a [*LockedError]. On Linux a locked keyring is
// unlocked through the Secret Service's prompt when it can show one (a
// password dialog on the desktop); the wait for the user ends with the
// operation's context.
//
// Many tools then quietly write the token to a plain file. This package
// does not: only a Store given a [Config.Fallback] (typically a
// *filestore.Store) uses another store, and it reports each operation that
// does to [Config.OnFallback] and [Config.Logger]; New refuses a Fallback
// without either. The Fallback holds a token only while it is newer than
// the keychain's: a refresh token rotated while the keychain was locked is
// used from the Fallback until a save reaches the keychain again, and the
// keychain's older one, already spent, is never presented (which a server
// detecting reuse would answer by revoking the grant).
//
// # Errors
//
// No token is an error wrapping [authtransport.ErrNoToken]; so is an entry
// that does not hold a usable token ([*CorruptError], which says why
// without quoting it), which the next Save replaces. A Transport treats
// both as an empty store and reports a login as required. An unavailable
// keychain, and any other failure of the keychain, is a failure of the
// store: the Transport's caller gets a [*authtransport.RefreshError] whose
// Err is this package's error, and errors.As finds a *NoKeyringError or
// *LockedError through it. Errors never contain a token.
//
// # Contexts
//
// On Linux every D-Bus call, and the connection itself, ends with the
// operation's context; each operation uses a private connection that it
// closes. The calls go-keyring makes on macOS and Windows take no context:
// an operation stops waiting for them when its context ends, and they
// finish in the background; the Store's lock is released only once such a
// write has finished, so that it cannot overwrite a token another process
// saved after it.
package keyringstore
