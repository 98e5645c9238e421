#!/bin/sh
# Render ops/alertmanager.yml into a real Alertmanager config by replacing the placeholders
# ${TELEGRAM_BOT_TOKEN} and ${TELEGRAM_CHAT_ID} with values from the environment.
#
# Usage: render-config.sh [OUTPUT] [TEMPLATE]
#   OUTPUT   where to write the config (default /tmp/alertmanager.yml)
#   TEMPLATE the template to read (default: alertmanager.yml next to this script's directory,
#            i.e. ops/alertmanager.yml in the repository)
#
# Why: Alertmanager 0.25 has telegram_configs but no `bot_token_file`, so the token has to be in the
# config file itself, and `chat_id` must be an integer. Secrets are never committed, so the config is
# rendered at container start. Newer Alertmanager versions accept `bot_token_file` (a mounted secret)
# and this script could then shrink to the chat id.
#
# POSIX sh and sed only: the prom/alertmanager image is busybox and has no envsubst.
# On a problem it prints one line to stderr and exits 1, writing nothing.
set -eu

me=render-config.sh
out=${1:-/tmp/alertmanager.yml}
template=${2:-$(dirname "$0")/../alertmanager.yml}

fail() {
  echo "$me: $*" >&2
  exit 1
}

token=${TELEGRAM_BOT_TOKEN:-}
chat_id=${TELEGRAM_CHAT_ID:-}

[ -n "$token" ] || fail "TELEGRAM_BOT_TOKEN is not set (the bot token from @BotFather, like 123456:ABC-def)"
[ -n "$chat_id" ] || fail "TELEGRAM_CHAT_ID is not set (the numeric chat id, like -1001234567890)"

# A Telegram bot token is digits, a colon, then letters, digits, '_' and '-'. Anything else would break
# the sed replacement or the quoted YAML string, so refuse it.
case $token in
  *[!A-Za-z0-9:_-]*) fail "TELEGRAM_BOT_TOKEN has characters a Telegram bot token cannot have" ;;
esac

# chat_id must be an integer (groups and channels are negative).
case $chat_id in
  - | *[!0-9-]* | ?*-*) fail "TELEGRAM_CHAT_ID must be an integer, got '$chat_id'" ;;
esac

[ -r "$template" ] || fail "cannot read the template $template"

umask 077
tmp="$out.tmp.$$"
# Comment lines are dropped: they mention the placeholders and are of no use in the rendered file.
# Written to a temporary file first so a failure never leaves a half-written config behind. The
# braces send the shell's own redirection errors to /dev/null too, so a failure stays one line.
if ! {
  sed \
    -e '/^[[:space:]]*#/d' \
    -e "s|\${TELEGRAM_BOT_TOKEN}|$token|g" \
    -e "s|\${TELEGRAM_CHAT_ID}|$chat_id|g" \
    "$template" >"$tmp"
} 2>/dev/null; then
  rm -f "$tmp"
  fail "cannot write $out"
fi
mv -f "$tmp" "$out" 2>/dev/null || {
  rm -f "$tmp"
  fail "cannot write $out"
}
