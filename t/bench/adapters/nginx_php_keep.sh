#!/usr/bin/env bash
# nginx in php mode with kept FastCGI connections (see nginx.sh), on the
# php-fpm of its own ($PHP_FPM_ADDR_nginx_php_keep, see compare.sh):
# fastcgi_keep_conn on, an upstream with keepalive $PHP_KEEPALIVE (4).
PHP_FPM_ADDR=${PHP_FPM_ADDR_nginx_php_keep:-${PHP_FPM_ADDR:-}} NGINX_MODE=php NGINX_FCGI_KEEPALIVE=${PHP_KEEPALIVE:-4} exec "$(dirname "$0")/nginx.sh" "$@"
