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

# test_certs DIR: make, once, a test CA (DIR/ca.pem, DIR/ca.key) and a server
# certificate for 127.0.0.1 and localhost signed by it (DIR/server.crt with key
# DIR/server.key), for the tests of sluice's TLS settings. Tests only: the keys
# are not protected.
test_certs() {
  local dir=$1
  [ -f "$dir/server.crt" ] && return
  command -v openssl >/dev/null || apt_install openssl
  mkdir -p "$dir"
  (
    cd "$dir"
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -subj "/CN=sluice test CA" \
      -keyout ca.key -out ca.pem 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=127.0.0.1" -keyout server.key -out server.csr 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >san.ext
    openssl x509 -req -sha256 -days 3650 -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
      -extfile san.ext -out server.crt.tmp 2>/dev/null
    mv server.crt.tmp server.crt
  ) || { echo "cannot make the test certificates in $dir with openssl" >&2; exit 1; }
}
