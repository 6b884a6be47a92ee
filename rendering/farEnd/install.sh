#!/bin/sh
# Installs, checks and removes this site's WireGuard gateway (a scaleway-wireguard-s2s far end).
#
#   ./install.sh install --form wg-quick|networkd|netplan [--dedicated] [--metrics] [--dry-run]
#   ./install.sh check [--wait SECONDS]
#   ./install.sh uninstall [--dry-run]
#
# Run as root from anywhere; the bundle is this script's directory. install records what it
# found and every file it wrote under /var/lib/wg-s2s, and uninstall undoes exactly that.
# Running install again with the same bundle changes nothing. --dry-run prints every change
# (the lines starting with "+") and makes none.
#
# The site's facts and the list of files (bundle file, installed path, mode, group, when)
# come from site.conf, which scaleway-wireguard-s2s generates beside this script.
set -eu

BUNDLE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=/dev/null # generated beside this script: SITE, WG_IF, TABLE, HUB_TUNNEL_ADDRESS, HUB_ADDRESS, LISTEN_PORT, PEERS_DIAL_IN, LAN_DHCP, FW_SCRIPT, STATE, METRICS_UNIT, METRICS_DIR, METRICS_TEXTFILE, PUSH_UNIT, MANIFEST
. "$BUNDLE/site.conf"

DRY_RUN=no
CHANGES=0
CHANGED_ROLES=""

say() { printf '%s\n' "$*"; }
die() {
	printf 'install.sh: %s\n' "$*" >&2
	exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

# Every command that changes the host goes through run: printed, and skipped by --dry-run.
run() {
	CHANGES=$((CHANGES + 1))
	say "+ $*"
	[ "$DRY_RUN" = yes ] || "$@"
}

remember() { # KEY VALUE: state that uninstall reads back
	[ "$DRY_RUN" = yes ] || { mkdir -p "$STATE" && printf '%s\n' "$2" >"$STATE/$1"; }
}
recall() { cat "$STATE/$1" 2>/dev/null || true; }
# Did install write a file of this role (the manifest's last column) in this run?
changed() {
	for role in "$@"; do
		case " $CHANGED_ROLES " in *" $role "*) return 0 ;; esac
	done
	return 1
}
is_active() { systemctl is-active --quiet "$1" 2>/dev/null; }
is_enabled() { systemctl is-enabled --quiet "$1" 2>/dev/null; }
unit_exists() {
	for dir in /etc/systemd/system /run/systemd/system /usr/lib/systemd/system /lib/systemd/system; do
		[ ! -f "$dir/$1" ] || return 0
	done
	return 1
}
has_docker() { unit_exists docker.service; }
ufw_active() { have ufw && ufw status 2>/dev/null | grep -q '^Status: active'; }

# The manifest's lines that apply here: every "all" line, the chosen form and policy scope,
# the Docker drop-in where Docker is installed, the tunnel metrics with --metrics.
manifest_for() { # FORM SCOPE METRICS
	printf '%s\n' "$MANIFEST" | while read -r src dest mode group when role; do
		[ -n "$src" ] || continue
		case "$when" in
		all | "$1" | "$2") say "$src $dest $mode $group $role" ;;
		docker) if has_docker; then say "$src $dest $mode $group $role"; fi ;;
		metrics) if [ "$3" = yes ]; then say "$src $dest $mode $group $role"; fi ;;
		esac
	done
}

recorded() { [ -f "$STATE/files" ] && awk -v p="$1" '$1 == p { found = 1 } END { exit !found }' "$STATE/files"; }

# Every file the chosen form needs is in the bundle, before anything changes.
complete_bundle() { # FORM SCOPE METRICS
	manifest_for "$1" "$2" "$3" | while read -r src _; do
		[ -f "$BUNDLE/$src" ] || die "the bundle has no $src: write it again (npm run bundle) and copy the whole directory"
	done
}

# One file into place, root-owned with its mode; nothing happens when it is already so.
put() { # SRC DEST MODE GROUP ROLE
	if [ -f "$2" ] && cmp -s "$BUNDLE/$1" "$2" && [ "$(stat -c '%a %U %G' "$2")" = "${3#0} root $4" ]; then
		return 0
	fi
	# A file install did not write (an earlier hand-made install, the host's own) is kept
	# aside, and uninstall puts it back.
	if [ -e "$2" ] && ! recorded "$2" && [ ! -e "$STATE/backup$2" ]; then
		run mkdir -p "$(dirname "$STATE/backup$2")"
		run cp -p "$2" "$STATE/backup$2"
	fi
	run install -D -m "$3" -o root -g "$4" "$BUNDLE/$1" "$2"
	CHANGED_ROLES="$CHANGED_ROLES $5"
	if [ "$DRY_RUN" = no ] && ! grep -qxF "$2 $5" "$STATE/files" 2>/dev/null; then
		printf '%s %s\n' "$2" "$5" >>"$STATE/files"
	fi
}

preflight() { # FORM
	[ "$(id -u)" = 0 ] || die "run as root (sudo $0 ...)"
	for tool in nft ip sysctl systemctl; do
		have "$tool" || die "'$tool' is missing: apt-get install nftables iproute2 procps systemd"
	done
	case "$1" in
	wg-quick) have wg-quick || die "--form wg-quick needs wg-quick: apt-get install wireguard-tools" ;;
	networkd) have networkctl || die "--form networkd needs systemd-networkd (networkctl): apt-get install systemd" ;;
	netplan) have netplan || die "--form netplan needs netplan: apt-get install netplan.io, or pick --form networkd" ;;
	esac
	if [ "$LAN_DHCP" = yes ] && ! unit_exists dnsmasq.service; then
		die "this site hands out its LAN routes by DHCP: apt-get install dnsmasq first"
	fi
	previous=$(recall form)
	if [ -n "$previous" ] && [ "$previous" != "$1" ]; then
		die "installed already as --form $previous: run '$0 uninstall' first, then install --form $1"
	fi
	if [ -z "$previous" ] && [ -e "/sys/class/net/$WG_IF" ]; then
		die "an interface $WG_IF exists that this bundle did not install (an earlier tunnel? systemctl disable --now wg-quick@$WG_IF, or ip link delete $WG_IF): free it first; its files are kept and put back by uninstall"
	fi
}

# What uninstall restores: recorded once, on the first install, before anything changes.
record_host() { # FORM SCOPE
	if [ -z "$(recall form)" ]; then
		remember ip_forward.before "$(sysctl -n net.ipv4.ip_forward)"
		if is_active dnsmasq.service; then remember dnsmasq.before active; else remember dnsmasq.before inactive; fi
	fi
	remember form "$1"
	remember scope "$2"
}

start_firewall() {
	if changed unit; then run systemctl daemon-reload; fi
	for unit in wg-s2s-firewall.service wg-s2s-guard.service; do
		is_enabled "$unit" || run systemctl enable "$unit"
	done
	if ! is_active wg-s2s-firewall.service; then
		run systemctl start wg-s2s-firewall.service
	elif changed policy; then
		run systemctl reload wg-s2s-firewall.service
	fi
	if ! is_active wg-s2s-guard.service; then
		run systemctl start wg-s2s-guard.service
	elif changed guard unit; then
		run systemctl restart wg-s2s-guard.service
	fi
}

# networkd creates a netdev only when it is missing: a changed one is deleted, then reloaded.
reload_networkd() {
	if [ -e "/sys/class/net/$WG_IF" ]; then run ip link delete "$WG_IF"; fi
	run networkctl reload
}

ensure_networkd() {
	if ! is_enabled systemd-networkd.service; then
		# Debian 12 brings its interfaces up with ifupdown; networkd then manages only the
		# links it has a .network file for (here wg0), so both coexist.
		run systemctl enable systemd-networkd.service
		remember networkd.enabled-by-install yes
	fi
	is_active systemd-networkd.service || run systemctl start systemd-networkd.service
}

start_tunnel() { # FORM
	case "$1" in
	wg-quick)
		unit="wg-quick@$WG_IF.service"
		is_enabled "$unit" || run systemctl enable "$unit"
		if ! is_active "$unit"; then
			run systemctl start "$unit"
		elif changed tunnel; then
			run systemctl restart "$unit"
		fi
		;;
	networkd)
		ensure_networkd
		if changed tunnel || [ ! -e "/sys/class/net/$WG_IF" ]; then
			reload_networkd
		fi
		;;
	netplan)
		ensure_networkd
		if changed tunnel || [ ! -e "/sys/class/net/$WG_IF" ]; then
			# generate + reload rather than `netplan apply`, which restarts networkd and with it
			# every link the host already has: on a router, its LAN and uplink.
			run netplan generate
			reload_networkd
		fi
		;;
	esac
}

# The tunnel metrics (--metrics): the collector, which node_exporter serves, and where the
# stack's owner asked for it (PUSH_UNIT set), the agent that pushes them to their Cockpit.
start_metrics() { # METRICS
	[ "$1" = yes ] || return 0
	if changed metrics; then run systemctl daemon-reload; fi
	for unit in "$METRICS_UNIT" $PUSH_UNIT; do
		is_enabled "$unit" || run systemctl enable "$unit"
		if ! is_active "$unit"; then
			run systemctl start "$unit"
		elif changed metrics; then
			run systemctl restart "$unit"
		fi
	done
}

stop_metrics() {
	for unit in $PUSH_UNIT "$METRICS_UNIT"; do
		if is_enabled "$unit" || is_active "$unit"; then run systemctl disable --now "$unit"; fi
	done
	if [ -e "$METRICS_TEXTFILE" ]; then run rm -f "$METRICS_TEXTFILE"; fi
}

start_dhcp() {
	[ "$LAN_DHCP" = yes ] || return 0
	if changed dhcp || ! is_active dnsmasq.service; then
		run systemctl restart dnsmasq.service
	fi
}

# The host's own firewall tools drop forwarded traffic by default; let the tunnel's past
# them. The forward policy (table inet wg_s2s) still judges every tunnel flow.
open_host_firewalls() {
	if ufw_active && [ -z "$(recall ufw.rules)" ]; then
		run ufw route allow in on "$WG_IF" comment wg-s2s
		run ufw route allow out on "$WG_IF" comment wg-s2s
		# Recorded as the arguments that delete them again.
		rules="route delete allow in on $WG_IF|route delete allow out on $WG_IF"
		if [ "$PEERS_DIAL_IN" = yes ] && [ -n "$HUB_ADDRESS" ]; then
			run ufw allow proto udp from "$HUB_ADDRESS" to any port "$LISTEN_PORT" comment wg-s2s
			rules="$rules|delete allow proto udp from $HUB_ADDRESS to any port $LISTEN_PORT"
		elif [ "$PEERS_DIAL_IN" = yes ]; then
			run ufw allow "$LISTEN_PORT/udp" comment wg-s2s
			rules="$rules|delete allow $LISTEN_PORT/udp"
		fi
		remember ufw.rules "$rules"
	fi
	# Docker's FORWARD chain drops what no container rule accepts; DOCKER-USER is where
	# Docker wants users' accepts. The docker.service drop-in re-adds them when Docker restarts.
	if has_docker && have iptables && iptables -n -L DOCKER-USER >/dev/null 2>&1; then
		if ! "$FW_SCRIPT" docker-check; then run "$FW_SCRIPT" docker-accept; fi
	fi
}

cmd_install() {
	form="" scope=tunnel metrics=no
	while [ $# -gt 0 ]; do
		case "$1" in
		--form)
			[ $# -ge 2 ] || die "--form needs a value: wg-quick, networkd or netplan"
			form=$2
			shift
			;;
		--form=*) form=${1#--form=} ;;
		--dedicated) scope=dedicated ;;
		--metrics) metrics=yes ;;
		--dry-run) DRY_RUN=yes ;;
		*) die "install: unknown option '$1'; usage: $0 install --form wg-quick|networkd|netplan [--dedicated] [--metrics] [--dry-run]" ;;
		esac
		shift
	done
	[ -n "$form" ] || die "install: say which form: --form wg-quick (wireguard-tools), --form networkd (systemd-networkd) or --form netplan (Ubuntu); README.txt says which fits"
	case "$form" in wg-quick | networkd | netplan) ;; *) die "--form must be wg-quick, networkd or netplan (got '$form'); see README.txt" ;; esac
	complete_bundle "$form" "$scope" "$metrics"
	preflight "$form"
	if [ "$metrics" = yes ] && [ ! -d "$METRICS_DIR" ]; then
		die "--metrics writes node_exporter's textfile directory $METRICS_DIR, which is missing: apt-get install prometheus-node-exporter first (or install without --metrics)"
	fi
	if [ "$metrics" = yes ] && [ -n "$PUSH_UNIT" ] && ! have prometheus; then
		die "--metrics pushes this site's metrics to the stack owner's Cockpit with Prometheus in agent mode: apt-get install prometheus first (or install without --metrics)"
	fi
	judged="tunnel traffic only"
	[ "$scope" = tunnel ] || judged="every forwarded packet (dedicated host)"
	say "site $SITE: installing --form $form; the forward policy judges $judged"
	record_host "$form" "$scope"
	# Installed with --metrics before, without now: the collector goes.
	if [ "$(recall metrics)" = yes ] && [ "$metrics" = no ]; then
		stop_metrics
		remove_files metrics
	fi
	remember metrics "$metrics"
	list=$(mktemp)
	manifest_for "$form" "$scope" "$metrics" >"$list"
	while read -r src dest mode group role; do put "$src" "$dest" "$mode" "$group" "$role"; done <"$list"
	rm -f "$list"
	start_firewall
	start_tunnel "$form"
	start_dhcp
	start_metrics "$metrics"
	open_host_firewalls
	if [ "$CHANGES" = 0 ]; then
		say "already installed: nothing changed"
	elif [ "$DRY_RUN" = yes ]; then
		say "dry run: $CHANGES change(s) above, none made"
	fi
	[ "$DRY_RUN" = yes ] || say "next: $0 check --wait 60"
}

# check ------------------------------------------------------------------------------------

FAILED=0
probe() { # WHAT COMMAND...: one line of the report
	what=$1
	shift
	if "$@" >/dev/null 2>&1; then say "ok    $what"; else
		say "FAIL  $what"
		FAILED=1
	fi
}

newest_handshake_age() {
	now=$(date +%s)
	wg show "$WG_IF" latest-handshakes 2>/dev/null | while read -r _ at; do
		if [ "$at" -gt 0 ]; then say $((now - at)); fi
	done | sort -n | head -n 1
}

forwarding_on() { [ "$(sysctl -n net.ipv4.ip_forward)" = 1 ]; }
handshake_recent() { [ -n "$1" ] && [ "$1" -le 180 ]; }

# A ping answered within the wait (the first packets may wait for a handshake).
ping_hub() { # WAIT
	deadline=$(($(date +%s) + $1))
	while :; do
		ping -c 1 -W 2 "$HUB_TUNNEL_ADDRESS" >/dev/null 2>&1 && return 0
		[ "$(date +%s)" -lt "$deadline" ] || return 1
		sleep 1
	done
}

cmd_check() {
	wait=0
	while [ $# -gt 0 ]; do
		case "$1" in
		--wait)
			[ $# -ge 2 ] || die "--wait needs a number of seconds"
			wait=$2
			shift
			;;
		*) die "check: unknown option '$1'; usage: $0 check [--wait SECONDS]" ;;
		esac
		shift
	done
	case "$wait" in '' | *[!0-9]*) die "--wait takes whole seconds (got '$wait')" ;; esac
	probe "forward policy loaded (table $TABLE)" nft list table "$TABLE"
	probe "wg-s2s-guard.service active (puts the policy back after a firewall reload)" is_active wg-s2s-guard.service
	probe "IPv4 forwarding on" forwarding_on
	probe "interface $WG_IF up" ip link show "$WG_IF" up
	probe "ping across the tunnel to the hub's tunnel address $HUB_TUNNEL_ADDRESS" ping_hub "$wait"
	if have wg; then
		age=$(newest_handshake_age)
		probe "latest handshake with the hub ${age:-never}${age:+ s ago} (at most 180 s: WireGuard rekeys every 120 s while traffic flows)" handshake_recent "$age"
	else
		say "skip  handshake age: wg (wireguard-tools) is not installed"
	fi
	[ "$FAILED" = 0 ] || exit 1
}

# uninstall --------------------------------------------------------------------------------

# The recorded files of these roles (every one when none is named) removed. A directory
# install created for a policy or a drop-in goes too once it is empty.
remove_files() { # [ROLE...]
	[ -f "$STATE/files" ] || return 0
	while read -r path role; do
		[ $# = 0 ] || case " $* " in *" $role "*) ;; *) continue ;; esac
		if [ -e "$path" ]; then run rm -f "$path"; fi
		if [ -e "$STATE/backup$path" ]; then run cp -p "$STATE/backup$path" "$path"; fi
		dir=$(dirname "$path")
		case "$role" in
		policy | unit | metrics) case "$dir" in */wg-s2s | *.service.d) if [ -d "$dir" ] && [ -z "$(ls -A "$dir")" ]; then run rmdir "$dir"; fi ;; esac ;;
		esac
	done <"$STATE/files"
}

stop_tunnel() { # FORM
	case "$1" in
	wg-quick)
		if is_enabled "wg-quick@$WG_IF.service" || is_active "wg-quick@$WG_IF.service"; then
			run systemctl disable --now "wg-quick@$WG_IF.service"
		fi
		;;
	networkd | netplan)
		remove_files tunnel
		if [ "$1" = netplan ]; then run netplan generate; fi
		if [ -e "/sys/class/net/$WG_IF" ]; then run ip link delete "$WG_IF"; fi
		run networkctl reload
		;;
	esac
}

close_host_firewalls() {
	rules=$(recall ufw.rules)
	if [ -n "$rules" ] && have ufw; then
		list=$(mktemp)
		printf '%s\n' "$rules" | tr '|' '\n' >"$list"
		while read -r delete; do
			# shellcheck disable=SC2086 # the recorded arguments are words for ufw
			run ufw $delete
		done <"$list"
		rm -f "$list"
	fi
	if [ -x "$FW_SCRIPT" ] && "$FW_SCRIPT" docker-check; then run "$FW_SCRIPT" docker-remove; fi
}

cmd_uninstall() {
	while [ $# -gt 0 ]; do
		case "$1" in
		--dry-run) DRY_RUN=yes ;;
		*) die "uninstall: unknown option '$1'; usage: $0 uninstall [--dry-run]" ;;
		esac
		shift
	done
	[ "$(id -u)" = 0 ] || die "run as root (sudo $0 uninstall)"
	form=$(recall form)
	if [ -z "$form" ]; then
		say "nothing to uninstall: no record in $STATE"
		return 0
	fi
	say "site $SITE: removing --form $form"
	# The tunnel goes first and the forward policy last, so no tunnel packet is ever unfiltered.
	stop_tunnel "$form"
	stop_metrics
	close_host_firewalls
	for unit in wg-s2s-guard.service wg-s2s-firewall.service; do
		if is_enabled "$unit" || is_active "$unit"; then run systemctl disable --now "$unit"; fi
	done
	# The firewall unit has no ExecStop (stopping it must never unfilter a running tunnel):
	# the table goes here, once the tunnel is gone.
	if nft list table "$TABLE" >/dev/null 2>&1; then run nft delete table "$TABLE"; fi
	remove_files
	run systemctl daemon-reload
	if [ "$LAN_DHCP" = yes ]; then
		if [ "$(recall dnsmasq.before)" = active ]; then
			run systemctl restart dnsmasq.service
		elif is_active dnsmasq.service; then
			run systemctl stop dnsmasq.service
		fi
	fi
	if [ "$(recall networkd.enabled-by-install)" = yes ]; then run systemctl disable --now systemd-networkd.service; fi
	before=$(recall ip_forward.before)
	if [ -n "$before" ] && [ "$(sysctl -n net.ipv4.ip_forward)" != "$before" ]; then
		run sysctl -q -w "net.ipv4.ip_forward=$before"
	fi
	run rm -rf "$STATE"
	if [ "$DRY_RUN" = yes ]; then say "dry run: $CHANGES change(s) above, none made"; fi
}

case "${1:-}" in
install | check | uninstall)
	cmd=$1
	shift
	"cmd_$cmd" "$@"
	;;
*)
	say "usage: $0 install --form wg-quick|networkd|netplan [--dedicated] [--metrics] [--dry-run]"
	say "       $0 check [--wait SECONDS]"
	say "       $0 uninstall [--dry-run]"
	exit 2
	;;
esac
