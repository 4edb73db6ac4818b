//go:build linux || freebsd || openbsd || netbsd || dragonfly

package keyringstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/godbus/dbus/v5"
)

// The Secret Service D-Bus API (freedesktop.org Secret Service 0.2).
const (
	ssName       = "org.freedesktop.secrets"
	ssPath       = dbus.ObjectPath("/org/freedesktop/secrets")
	ssService    = "org.freedesktop.Secret.Service"
	ssCollection = "org.freedesktop.Secret.Collection"
	ssItem       = "org.freedesktop.Secret.Item"
	ssSession    = "org.freedesktop.Secret.Session"
	ssPrompt     = "org.freedesktop.Secret.Prompt"
	noObject     = dbus.ObjectPath("/") // "none", where the API returns a path

	// The attribute names go-keyring and secret-tool users know, so that
	// `secret-tool lookup service S username A` finds the head entry.
	attrService = "service"
	attrUser    = "username"
)

// secretService is the Secret Service (GNOME Keyring, KWallet, KeePassXC)
// on the D-Bus session bus. Each batch of operations opens a private
// connection of its own and closes it at the end, so that no goroutine
// and no socket outlives an operation, and every call honours the
// operation's context.
type secretService struct {
	service string
}

// secretSession is one batch: a connection, a Secret Service session for
// plain transfer over the private session bus, and the unlocked default
// collection.
type secretSession struct {
	service    string
	conn       *dbus.Conn
	session    dbus.ObjectPath
	collection dbus.ObjectPath
}

// ssSecret is the Secret struct of the API, (oayays).
type ssSecret struct {
	Session     dbus.ObjectPath
	Parameters  []byte
	Value       []byte
	ContentType string
}

func (k secretService) open(ctx context.Context) (keychainSession, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// No autolaunch: a library must not start a bus daemon (dbus-launch)
	// behind its caller's back; without a session bus there is no keyring.
	conn, err := dbus.SessionBusPrivateNoAutoStartup(dbus.WithContext(ctx))
	if err != nil {
		return nil, &unavailableError{err: fmt.Errorf("no D-Bus session bus: %w", err)}
	}
	s := &secretSession{service: k.service, conn: conn}
	if err := s.start(ctx); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// start authenticates to the bus, opens a Secret Service session and finds
// the default collection, unlocking it if needed.
func (s *secretSession) start(ctx context.Context) error {
	if err := s.conn.Auth(nil); err != nil {
		return ctxOr(ctx, &unavailableError{err: fmt.Errorf("D-Bus session bus: %w", err)})
	}
	if err := s.conn.Hello(); err != nil {
		return ctxOr(ctx, &unavailableError{err: fmt.Errorf("D-Bus session bus: %w", err)})
	}
	// A ping comes first: gnome-keyring registers a new client in a
	// callback that its first call schedules, and a first call that needs
	// the registration can run before it, under load: OpenSession then
	// aborts the daemon, ReadAlias finds no collection (seen with
	// gnome-keyring 42, reported upstream for 50). The ping needs none.
	svc := s.conn.Object(ssName, ssPath)
	if err := svc.CallWithContext(ctx, "org.freedesktop.DBus.Peer.Ping", 0).Store(); err != nil {
		return classify(ctx, err)
	}
	// gnome-keyring answers "/" instead of failing when the lookup needs
	// a registration it has not made yet: asking again gives it the time.
	for range 3 {
		if err := svc.CallWithContext(ctx, ssService+".ReadAlias", 0, "default").Store(&s.collection); err != nil {
			return classify(ctx, err)
		}
		if s.collection != noObject {
			break
		}
	}
	if s.collection == noObject {
		return &unavailableError{err: errors.New("the Secret Service has no default collection")}
	}
	var ignored dbus.Variant
	err := svc.CallWithContext(ctx, ssService+".OpenSession", 0, "plain", dbus.MakeVariant("")).Store(&ignored, &s.session)
	if err != nil {
		return classify(ctx, err)
	}
	var locked dbus.Variant
	err = s.conn.Object(ssName, s.collection).CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, ssCollection, "Locked").Store(&locked)
	if err != nil {
		return classify(ctx, err)
	}
	if l, _ := locked.Value().(bool); l {
		return s.unlock(ctx)
	}
	return nil
}

// unlock asks the Secret Service to unlock the default collection, which
// it does by prompting the user (on a desktop, a password dialog). Without
// a way to prompt, or when the user dismisses it, the keyring stays locked.
func (s *secretSession) unlock(ctx context.Context) error {
	var unlocked []dbus.ObjectPath
	var prompt dbus.ObjectPath
	err := s.conn.Object(ssName, ssPath).CallWithContext(ctx, ssService+".Unlock", 0, []dbus.ObjectPath{s.collection}).Store(&unlocked, &prompt)
	if err != nil {
		return classify(ctx, err)
	}
	if len(unlocked) > 0 {
		return nil
	}
	if prompt == noObject {
		return &unavailableError{locked: true, err: errors.New("the Secret Service did not unlock the default collection")}
	}
	dismissed, err := s.prompt(ctx, prompt)
	if err != nil {
		return err
	}
	if dismissed {
		return &unavailableError{locked: true, err: errors.New("the unlock prompt was dismissed or could not be shown")}
	}
	return nil
}

// prompt shows a Secret Service prompt and waits for its Completed signal
// or the end of ctx, in which case it dismisses the prompt.
func (s *secretSession) prompt(ctx context.Context, prompt dbus.ObjectPath) (dismissed bool, err error) {
	match := []dbus.MatchOption{dbus.WithMatchObjectPath(prompt), dbus.WithMatchInterface(ssPrompt), dbus.WithMatchMember("Completed")}
	if err := s.conn.AddMatchSignalContext(ctx, match...); err != nil {
		return false, classify(ctx, err)
	}
	signals := make(chan *dbus.Signal, 4)
	s.conn.Signal(signals)
	defer s.conn.RemoveSignal(signals)
	obj := s.conn.Object(ssName, prompt)
	if err := obj.CallWithContext(ctx, ssPrompt+".Prompt", 0, "").Store(); err != nil {
		return false, classify(ctx, err)
	}
	for {
		select {
		case sig, ok := <-signals:
			if !ok {
				return false, &unavailableError{err: errors.New("D-Bus connection closed while waiting for a prompt")}
			}
			if sig.Path != prompt || sig.Name != ssPrompt+".Completed" || len(sig.Body) == 0 {
				continue
			}
			d, _ := sig.Body[0].(bool)
			return d, nil
		case <-ctx.Done():
			// The connection closes with ctx; the dismissal is a courtesy
			// to the user, on a context of its own.
			_ = obj.Call(ssPrompt+".Dismiss", dbus.FlagNoReplyExpected)
			return false, ctx.Err()
		}
	}
}

func (s *secretSession) attributes(user string) map[string]string {
	return map[string]string{attrService: s.service, attrUser: user}
}

// find returns the items of the default collection that hold user's entry.
func (s *secretSession) find(ctx context.Context, user string) ([]dbus.ObjectPath, error) {
	var items []dbus.ObjectPath
	err := s.conn.Object(ssName, s.collection).CallWithContext(ctx, ssCollection+".SearchItems", 0, s.attributes(user)).Store(&items)
	if err != nil {
		return nil, classify(ctx, err)
	}
	return items, nil
}

func (s *secretSession) get(ctx context.Context, user string) (string, error) {
	items, err := s.find(ctx, user)
	if err != nil {
		return "", err
	}
	if len(items) == 0 {
		return "", errNotFound
	}
	var secret ssSecret
	err = s.conn.Object(ssName, items[0]).CallWithContext(ctx, ssItem+".GetSecret", 0, s.session).Store(&secret)
	if err != nil {
		if vanished(err) {
			// Deleted between the search and the read.
			return "", errNotFound
		}
		return "", classify(ctx, err)
	}
	return string(secret.Value), nil
}

func (s *secretSession) set(ctx context.Context, user, label, value string) error {
	props := map[string]dbus.Variant{
		ssItem + ".Label":      dbus.MakeVariant(label),
		ssItem + ".Attributes": dbus.MakeVariant(s.attributes(user)),
	}
	secret := ssSecret{Session: s.session, Parameters: []byte{}, Value: []byte(value), ContentType: "text/plain; charset=utf8"}
	var item, prompt dbus.ObjectPath
	err := s.conn.Object(ssName, s.collection).CallWithContext(ctx, ssCollection+".CreateItem", 0, props, secret, true).Store(&item, &prompt)
	if err != nil {
		return classify(ctx, err)
	}
	return s.completePrompt(ctx, prompt)
}

func (s *secretSession) remove(ctx context.Context, user string) error {
	items, err := s.find(ctx, user)
	if err != nil {
		return err
	}
	for _, item := range items {
		var prompt dbus.ObjectPath
		err := s.conn.Object(ssName, item).CallWithContext(ctx, ssItem+".Delete", 0).Store(&prompt)
		if err != nil {
			if vanished(err) {
				continue
			}
			return classify(ctx, err)
		}
		if err := s.completePrompt(ctx, prompt); err != nil {
			return err
		}
	}
	return nil
}

// completePrompt runs the prompt a call asked for, if any: a service may
// ask the user to confirm a change.
func (s *secretSession) completePrompt(ctx context.Context, prompt dbus.ObjectPath) error {
	if prompt == noObject || prompt == "" {
		return nil
	}
	dismissed, err := s.prompt(ctx, prompt)
	if err != nil {
		return err
	}
	if dismissed {
		return &unavailableError{locked: true, err: errors.New("the Secret Service prompt was dismissed or could not be shown")}
	}
	return nil
}

func (s *secretSession) close() {
	if s.session != "" && s.conn.Connected() {
		// Closing the connection ends the session too; saying so first
		// frees it at once. The call must not wait for an ended context.
		_ = s.conn.Object(ssName, s.session).Call(ssSession+".Close", dbus.FlagNoReplyExpected)
	}
	_ = s.conn.Close()
}

// classify turns a failed call into an unavailableError when it says that
// there is no Secret Service or that the keyring is locked, and into the
// context's error when ctx has ended.
func classify(ctx context.Context, err error) error {
	name := dbusErrorName(err)
	switch {
	case name == "org.freedesktop.Secret.Error.IsLocked":
		return &unavailableError{locked: true, err: err}
	case name == "org.freedesktop.DBus.Error.ServiceUnknown",
		name == "org.freedesktop.DBus.Error.NameHasNoOwner",
		strings.HasPrefix(name, "org.freedesktop.DBus.Error.Spawn."):
		return &unavailableError{err: fmt.Errorf("no Secret Service on the D-Bus session bus: %w", err)}
	}
	return ctxOr(ctx, err)
}

// ctxOr returns ctx's error when ctx has ended (a call cut short by it
// fails with a less telling error, such as a closed connection), and err
// otherwise.
func ctxOr(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	return err
}

// vanished reports whether err says that the item called no longer
// exists: services answer a call on a deleted item with NoSuchObject, or
// as D-Bus does for an object that is not there.
func vanished(err error) bool {
	switch dbusErrorName(err) {
	case "org.freedesktop.Secret.Error.NoSuchObject",
		"org.freedesktop.DBus.Error.UnknownObject",
		"org.freedesktop.DBus.Error.UnknownInterface",
		"org.freedesktop.DBus.Error.UnknownMethod":
		return true
	}
	return false
}

// dbusErrorName returns the D-Bus error name carried by err, or "".
func dbusErrorName(err error) string {
	var v dbus.Error
	if errors.As(err, &v) {
		return v.Name
	}
	var p *dbus.Error
	if errors.As(err, &p) {
		return p.Name
	}
	return ""
}
