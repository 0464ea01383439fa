#!/usr/bin/env bash
# maitred in php mode with php_keepalive $PHP_KEEPALIVE (4) (see maitred.sh),
# on the php-fpm of its own ($PHP_FPM_ADDR_maitred_php_keep, see compare.sh).
PHP_FPM_ADDR=${PHP_FPM_ADDR_maitred_php_keep:-${PHP_FPM_ADDR:-}} MAITRED_MODE=php MAITRED_EXTRA_CONF="${MAITRED_EXTRA_CONF:-}
php_keepalive ${PHP_KEEPALIVE:-4}" exec "$(dirname "$0")/maitred.sh" "$@"
