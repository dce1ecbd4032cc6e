
export AWS_DEFAULT_REGION="$REGION" AWS_RETRY_MODE=standard AWS_MAX_ATTEMPTS=5

log() { echo "$*"; }

# For what an operator must hear about: priority crit in the journal as well as the log.
alarm() {
  echo "!!! $* !!!"
  logger -p user.crit -t ce-user-data "$*" || true
}

# retry ATTEMPTS DELAY COMMAND...: runs COMMAND until it succeeds, at most ATTEMPTS times.
retry() {
  local attempts=$1 delay=$2 n=1
  shift 2
  until "$@"; do
    if [ "$n" -ge "$attempts" ]; then
      return 1
    fi
    log "attempt $n of $attempts failed: $*; retrying in $delay s"
    n=$((n + 1))
    sleep "$delay"
  done
}

# s3_get KEY FILE: one object of the builds bucket, in bounded time.
s3_get() {
  timeout 900 aws s3 cp --only-show-errors --cli-connect-timeout 10 --cli-read-timeout 60 \
    "s3://$BUILDS_BUCKET/$1" "$2"
}

# mount_efs DIR OPTIONS: the file system through the EFS mount helper, over TLS and with the
# node's IAM role (the file-system policy refuses anything else), retried while a new file
# system's mount targets appear in DNS.
mount_efs() {
  mkdir -p "$1"
  if ! grep -qs " $1 efs " /etc/fstab; then
    echo "$FILE_SYSTEM_ID:/ $1 efs $2,_netdev,nofail 0 0" >>/etc/fstab
  fi
  if mountpoint -q "$1"; then
    return 0
  fi
  if ! retry 12 10 mount -t efs -o "$2" "$FILE_SYSTEM_ID:/" "$1"; then
    alarm "cannot mount EFS $FILE_SYSTEM_ID at $1"
    exit 1
  fi
  log "mounted $FILE_SYSTEM_ID at $1 ($2)"
}

# The compilers live on EFS; the node sees them read-only where the app expects them.
bind_compilers() {
  mkdir -p "$COMPILERS_ON_EFS" "$COMPILER_DIR"
  if ! grep -qs " $COMPILER_DIR none " /etc/fstab; then
    echo "$COMPILERS_ON_EFS $COMPILER_DIR none bind,ro,nofail,x-systemd.requires-mounts-for=$EFS_MOUNT 0 0" >>/etc/fstab
  fi
  if ! mountpoint -q "$COMPILER_DIR"; then
    mount --bind "$COMPILERS_ON_EFS" "$COMPILER_DIR"
    mount -o remount,bind,ro "$COMPILER_DIR"
  fi
  log "compilers from $COMPILERS_ON_EFS at $COMPILER_DIR"
}

deployed_key() {
  cat "$DEPLOY_DIR/s3_key" 2>/dev/null || true
}

# A build key the node may read and the pointer may name: under dist/, one plain word.
valid_key() {
  case "$1" in
    dist/?*) ;;
    *) return 1 ;;
  esac
  case "$1" in
    *[[:space:]]* | *..*) return 1 ;;
  esac
}

# install_build TARBALL KEY SOURCE: unpacks next to the live build, then swaps it in.
install_build() {
  local staging="$DEPLOY_DIR.new"
  rm -rf "$staging"
  mkdir -p "$staging"
  tar -xf "$1" -C "$staging"
  printf '%s\n' "$2" >"$staging/s3_key"
  printf '%s\n' "$3" >"$staging/source"
  rm -rf "$DEPLOY_DIR"
  mv "$staging" "$DEPLOY_DIR"
  log "installed $2 from $3"
}

# The cached copy of a build key on EFS: slashes become underscores.
cache_file() {
  printf '%s/%s' "$CACHE_DIR" "$(printf '%s' "$1" | tr '/' '_')"
}

# cache_build TARBALL KEY: keeps the build on EFS for when S3 cannot be read. The tarball
# lands under its final name before the `current` pointer names it, and each lands by a
# rename, so a reader never sees a half-written file. Steps are chained because the caller
# runs this where `set -e` does not apply.
cache_build() {
  local file tmp
  file=$(cache_file "$2") || return 1
  if [ "$(cat "$CACHE_DIR/current" 2>/dev/null || true)" = "$2" ] && [ -f "$file" ]; then
    log "EFS cache already holds $2"
    return 0
  fi
  mkdir -p "$CACHE_DIR" || return 1
  tmp=$(mktemp "$CACHE_DIR/.tmp.XXXXXX") || return 1
  if ! { cp "$1" "$tmp" && mv -f "$tmp" "$file"; }; then
    rm -f "$tmp"
    return 1
  fi
  tmp=$(mktemp "$CACHE_DIR/.tmp.XXXXXX") || return 1
  if ! { printf '%s\n' "$2" >"$tmp" && mv -f "$tmp" "$CACHE_DIR/current"; }; then
    rm -f "$tmp"
    return 1
  fi
  # Older builds stay a day, so a node that just read the old pointer still finds its file.
  find "$CACHE_DIR" -maxdepth 1 -type f -name 'dist_*' ! -name "$(basename "$file")" -mmin +1440 -delete || true
  find "$CACHE_DIR" -maxdepth 1 -type f -name '.tmp.*' -mmin +60 -delete || true
  log "cached $2 in $CACHE_DIR"
}

# boot_from_cache REASON: the S3-outage fallback. Boots the last build any node of this env
# downloaded, rather than not booting at all.
boot_from_cache() {
  local key file installed
  alarm "$1; booting the build cached on EFS instead"
  key=$(tr -d '[:space:]' 2>/dev/null <"$CACHE_DIR/current" || true)
  installed=$(deployed_key)
  if [ -n "$key" ] && file=$(cache_file "$key") && [ -f "$file" ]; then
    if [ "$key" = "$installed" ]; then
      log "cached build $key is already installed"
    else
      install_build "$file" "$key" efs-cache
    fi
    alarm "running $key from the EFS cache, which may be older than s3://$BUILDS_BUCKET/$VERSION_KEY"
  elif [ -n "$installed" ]; then
    alarm "no build cached in $CACHE_DIR; keeping the installed $installed"
  else
    alarm "no build cached in $CACHE_DIR and none installed: the node cannot serve"
    exit 1
  fi
}

update_code() {
  local key tarball
  if ! retry 3 5 s3_get "$VERSION_KEY" "$WORKDIR/pointer"; then
    boot_from_cache "S3 unavailable: cannot read s3://$BUILDS_BUCKET/$VERSION_KEY"
    return 0
  fi
  key=$(tr -d '[:space:]' <"$WORKDIR/pointer")
  if ! valid_key "$key"; then
    boot_from_cache "bad pointer: s3://$BUILDS_BUCKET/$VERSION_KEY names '$key', not a build under dist/"
    return 0
  fi
  if [ "$key" = "$(deployed_key)" ]; then
    log "$key is already installed"
    return 0
  fi
  tarball="$WORKDIR/$(basename "$key")"
  if ! retry 3 10 s3_get "$key" "$tarball"; then
    boot_from_cache "S3 unavailable: cannot download s3://$BUILDS_BUCKET/$key"
    return 0
  fi
  install_build "$tarball" "$key" s3
  if ! cache_build "$tarball" "$key"; then
    alarm "could not cache $key in $CACHE_DIR: the S3-outage fallback holds an older build"
  fi
}

if ! command -v aws >/dev/null; then
  alarm "the AWS CLI is missing from the AMI"
  exit 1
fi
if ! command -v mount.efs >/dev/null; then
  alarm "the EFS mount helper (amazon-efs-utils) is missing from the AMI: EFS needs TLS and IAM"
  exit 1
fi
WORKDIR=$(mktemp -d)
trap 'rm -rf "$WORKDIR"' EXIT

log "booting a ce $ENV_NAME node"
# Compilers read-only; the build cache read-write through its own access point.
mount_efs "$EFS_MOUNT" "$EFS_OPTIONS"
mount_efs "$CACHE_MOUNT" "$CACHE_OPTIONS"
bind_compilers
update_code
systemctl start "$SERVICE"
log "started $SERVICE"
