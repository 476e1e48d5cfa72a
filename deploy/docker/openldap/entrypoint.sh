#!/bin/sh
# Starts slapd in the foreground from environment settings; loads bootstrap.ldif into an empty
# directory once. Also run outside Docker by deploy/test/openldap.int.spec.ts (every path is a
# variable for that).
set -eu
: "${LDAP_PORT:=1389}"
: "${LDAP_SUFFIX:=dc=example,dc=org}"
: "${LDAP_DATA_DIR:=/var/lib/provisio-ldap}"
: "${LDAP_RUN_DIR:=/run/provisio-ldap}"
: "${LDAP_SCHEMA_DIR:=/etc/ldap/schema}"
: "${LDAP_MODULE_DIR:=/usr/lib/ldap}"
: "${LDAP_BOOTSTRAP:=$(dirname "$0")/bootstrap.ldif}"

if [ -n "${LDAP_ADMIN_PASSWORD_FILE:-}" ] && [ -r "${LDAP_ADMIN_PASSWORD_FILE}" ]; then
  LDAP_ADMIN_PASSWORD=$(cat "$LDAP_ADMIN_PASSWORD_FILE")
fi
if [ -z "${LDAP_ADMIN_PASSWORD:-}" ]; then
  echo "openldap: set LDAP_ADMIN_PASSWORD or LDAP_ADMIN_PASSWORD_FILE (the password of cn=admin,${LDAP_SUFFIX})" >&2
  exit 2
fi
case "$LDAP_SUFFIX" in
  dc=*) ;;
  *) echo "openldap: LDAP_SUFFIX '${LDAP_SUFFIX}' must be a dc=...,dc=... name" >&2; exit 2 ;;
esac

mkdir -p "$LDAP_DATA_DIR" "$LDAP_RUN_DIR"
conf="$LDAP_RUN_DIR/slapd.conf"
hash=$(slappasswd -s "$LDAP_ADMIN_PASSWORD")
umask 077
cat >"$conf" <<CONF
include ${LDAP_SCHEMA_DIR}/core.schema
include ${LDAP_SCHEMA_DIR}/cosine.schema
include ${LDAP_SCHEMA_DIR}/inetorgperson.schema
include ${LDAP_SCHEMA_DIR}/nis.schema
pidfile ${LDAP_RUN_DIR}/slapd.pid
argsfile ${LDAP_RUN_DIR}/slapd.args
modulepath ${LDAP_MODULE_DIR}
moduleload back_mdb
database mdb
maxsize 268435456
suffix "${LDAP_SUFFIX}"
rootdn "cn=admin,${LDAP_SUFFIX}"
rootpw ${hash}
directory ${LDAP_DATA_DIR}
index objectClass eq
index uid,cn,mail,entryUUID eq
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by * none
CONF

if [ ! -f "$LDAP_DATA_DIR/data.mdb" ]; then
  dc=$(echo "$LDAP_SUFFIX" | sed -e 's/^dc=\([^,]*\).*/\1/')
  sed -e "s/@SUFFIX@/${LDAP_SUFFIX}/g" -e "s/@DC@/${dc}/g" "$LDAP_BOOTSTRAP" | slapadd -f "$conf" -b "$LDAP_SUFFIX"
fi
exec slapd -d "${LDAP_DEBUG:-256}" -f "$conf" -h "ldap://0.0.0.0:${LDAP_PORT}/"
