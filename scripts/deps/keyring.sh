# keyringstore's tests run against a real Secret Service: gnome-keyring's
# daemon on a private D-Bus session bus that the tests start themselves.
need dbus-run-session dbus-daemon
need dbus-daemon dbus-daemon
need gnome-keyring-daemon gnome-keyring
