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

# fetch_maven_zip COORDS CACHE NAME: download the zip artifact COORDS
# (group:artifact:version:zip) from Maven Central once and unpack it into
# CACHE, where it makes the directory NAME (marker CACHE/.complete). The
# Elasticsearch and OpenSearch integ-test-zips are fetched this way.
fetch_maven_zip() {
  local coords=$1 cache=$2 name=$3 work zip
  [ -f "$cache/.complete" ] && return
  echo "fetching $coords from Maven Central ..." >&2
  work=$(mktemp -d)
  (cd "$work" && mvn -B -q -Dstyle.color=never org.apache.maven.plugins:maven-dependency-plugin:3.7.1:copy \
      -Dartifact="$coords" -DoutputDirectory="$work")
  zip=$(ls "$work"/*.zip)
  mkdir -p "$cache"
  rm -rf "${cache:?}/$name"
  if command -v unzip >/dev/null; then
    unzip -q "$zip" -d "$cache"
  else
    python3 -m zipfile -e "$zip" "$cache"
  fi
  rm -rf "$work"
  chmod -R a+rX "$cache/$name"
  chmod a+x "$cache/$name"/bin/*  # python's zipfile drops the mode bits
  touch "$cache/.complete"
}

# ensure_system_user NAME: create the system user NAME when running as root
# (Elasticsearch and OpenSearch refuse to run as root).
ensure_system_user() {
  [ "$(id -u)" = 0 ] || return 0
  id -u "$1" >/dev/null 2>&1 && return
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$1"
}

# readable_home USER HOME BIN SCRATCH VERSION: print the unpacked
# distribution HOME as USER can read it: HOME itself, or, when USER cannot
# reach it (e.g. it is under /root), a copy (hard links where possible)
# made once per VERSION in SCRATCH/home.
readable_home() {
  local user=$1 home=$2 bin=$3 scratch=$4 version=$5 copy=$4/home
  if [ "$(id -u)" != 0 ] || setpriv --reuid="$user" --regid="$user" --init-groups test -x "$home/bin/$bin"; then
    echo "$home"
    return
  fi
  if [ ! -f "$copy/.version-$version" ]; then
    rm -rf "$copy"
    mkdir -p "$scratch"
    cp -al "$home" "$copy" 2>/dev/null || cp -r "$home" "$copy"
    touch "$copy/.version-$version"
  fi
  echo "$copy"
}
