# lib.sh — helpers the service scripts source.

# apt_install PKG...: install Debian packages, as root or through sudo.
apt_install() {
  local sudo=
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "$* missing, not root and no sudo" >&2; exit 1; }
    sudo=sudo
  fi
  echo "installing $* ..." >&2
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
