/*
 * Extension -> media type table. Entries come from a mime.types file
 * (Debian format: "type ext ext ...", '#' comments), then a built-in table
 * of common web types is laid over it, so those answers do not depend on
 * the host's file and are right even when the file is missing. The table
 * is process-local, written only by mime_init() and mime_free(); keys are
 * lowercase, values point into the loaded file or at string literals.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mime.h"
#include "mtd.h"

#define MIME_FILE	"/etc/mime.types"
#define MIME_FILE_MAX	(4 * 1024 * 1024)	/* refuse larger files */
#define MIME_EXT_MAX	23			/* longer extensions: default */
#define MIME_CAP_MIN	256

struct mime_entry {
	const char	*ext;	/* NULL: empty slot */
	const char	*type;
};

/*
 * Built-in types, applied last: the web's common files, and where a
 * system table disagrees with nginx's for the web (Debian's calls .ts a
 * Qt Linguist file; nginx, HLS players and this table video/mp2t). The
 * text/ ones get the charset directive's parameter, if any.
 */
static const struct mime_entry mime_builtin[] = {
	{ "html",	"text/html" },
	{ "htm",	"text/html" },
	{ "css",	"text/css" },
	{ "js",		"text/javascript" },
	{ "mjs",	"text/javascript" },
	{ "txt",	"text/plain" },
	{ "csv",	"text/csv" },
	{ "md",		"text/markdown" },
	{ "json",	"application/json" },
	{ "map",	"application/json" },
	{ "webmanifest", "application/manifest+json" },
	{ "xml",	"application/xml" },
	{ "xhtml",	"application/xhtml+xml" },
	{ "rss",	"application/rss+xml" },
	{ "atom",	"application/atom+xml" },
	{ "svg",	"image/svg+xml" },
	{ "png",	"image/png" },
	{ "jpg",	"image/jpeg" },
	{ "jpeg",	"image/jpeg" },
	{ "gif",	"image/gif" },
	{ "webp",	"image/webp" },
	{ "avif",	"image/avif" },
	{ "ico",	"image/x-icon" },
	{ "bmp",	"image/bmp" },
	{ "tif",	"image/tiff" },
	{ "tiff",	"image/tiff" },
	{ "pdf",	"application/pdf" },
	{ "zip",	"application/zip" },
	{ "gz",		"application/gzip" },
	{ "tar",	"application/x-tar" },
	{ "bz2",	"application/x-bzip2" },
	{ "xz",		"application/x-xz" },
	{ "wasm",	"application/wasm" },
	{ "woff",	"font/woff" },
	{ "woff2",	"font/woff2" },
	{ "ttf",	"font/ttf" },
	{ "otf",	"font/otf" },
	{ "mp4",	"video/mp4" },
	{ "webm",	"video/webm" },
	{ "mov",	"video/quicktime" },
	{ "mp3",	"audio/mpeg" },
	{ "m4a",	"audio/mp4" },
	{ "ogg",	"audio/ogg" },
	{ "flac",	"audio/flac" },
	{ "wav",	"audio/wav" },
	{ "ts",		"video/mp2t" },
	{ "m3u8",	"application/vnd.apple.mpegurl" },
	{ "mpd",	"application/dash+xml" },
	{ "3gp",	"video/3gpp" },
	{ "3gpp",	"video/3gpp" },
	{ "mpeg",	"video/mpeg" },
	{ "mpg",	"video/mpeg" },
	{ "avi",	"video/x-msvideo" },
	{ "mid",	"audio/midi" },
	{ "midi",	"audio/midi" },
	{ "kar",	"audio/midi" },
	{ "aac",	"audio/aac" },
	{ "opus",	"audio/ogg" },
	{ "weba",	"audio/webm" },
	{ "eot",	"application/vnd.ms-fontobject" },
};

static struct mime_entry	*mime_tab;	/* mime_cap slots */
static size_t			 mime_cap;	/* 0 or a power of two */
static size_t			 mime_n;	/* used slots */
static char			*mime_buf;	/* the loaded file, tokenised */
/* "type; charset=..." strings made for the text/ built-ins. */
static char			*mime_owned[MTD_ARRLEN(mime_builtin)];

static char
mime_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* FNV-1a. */
static size_t
mime_hash(const char *s)
{
	uint64_t	 h = 14695981039346656037ULL;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return (size_t)h;
}

/* Returns the slot holding <ext>, or the empty slot where it would go. */
static struct mime_entry *
mime_slot(struct mime_entry *tab, size_t cap, const char *ext)
{
	size_t	 i = mime_hash(ext) & (cap - 1);

	while (tab[i].ext != NULL && strcmp(tab[i].ext, ext) != 0)
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

static void
mime_grow(void)
{
	struct mime_entry	*tab;
	size_t			 cap, i;

	cap = mime_cap == 0 ? MIME_CAP_MIN : mime_cap * 2;
	if ((tab = calloc(cap, sizeof(*tab))) == NULL)
		fatal("mime table");
	for (i = 0; i < mime_cap; i++)
		if (mime_tab[i].ext != NULL)
			*mime_slot(tab, cap, mime_tab[i].ext) = mime_tab[i];
	free(mime_tab);
	mime_tab = tab;
	mime_cap = cap;
}

/* Maps lowercase <ext> to <type>, replacing an earlier mapping. */
static void
mime_insert(const char *ext, const char *type)
{
	struct mime_entry	*e;

	if (strlen(ext) > MIME_EXT_MAX)
		return;
	/* Keep the load factor at or under 1/2: probes stay short. */
	if ((mime_n + 1) * 2 > mime_cap)
		mime_grow();
	e = mime_slot(mime_tab, mime_cap, ext);
	if (e->ext == NULL) {
		e->ext = ext;
		mime_n++;
	}
	e->type = type;
}

/* Returns the NUL-terminated contents of <path>, or NULL. */
static char *
mime_read(const char *path)
{
	struct stat	 st;
	char		*buf = NULL;
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > MIME_FILE_MAX)
		goto out;
	if ((buf = malloc(st.st_size + 1)) == NULL)
		fatal("mime file %s", path);
	while (off < (size_t)st.st_size &&
	    (n = read(fd, buf + off, st.st_size - off)) > 0)
		off += n;
	buf[off] = '\0';
out:
	close(fd);
	return buf;
}

/* Tokenises <buf> in place and inserts every "type ext..." line. */
static void
mime_parse(char *buf)
{
	char	*line, *next, *type, *ext, *sp, *p;

	for (line = buf; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		line[strcspn(line, "#")] = '\0';
		type = strtok_r(line, " \t\r", &sp);
		if (type == NULL || strchr(type, '/') == NULL)
			continue;
		while ((ext = strtok_r(NULL, " \t\r", &sp)) != NULL) {
			for (p = ext; *p != '\0'; p++)
				*p = mime_lower(*p);
			mime_insert(ext, type);
		}
	}
}

/*
 * Builds the table from the mime.types file <path> (NULL: /etc/mime.types)
 * when it can be read, then the built-in types over it, the text ones
 * with "; charset=<charset>" unless <charset> is NULL or "". Replaces a
 * table built before. Exits through fatal() when out of memory. Called
 * by the master before forking workers (they share the table
 * copy-on-write) and by any process on reload.
 */
void
mime_init(const char *path, const char *charset)
{
	const char	*type;
	size_t		 i;

	mime_free();
	mime_grow();
	if ((mime_buf = mime_read(path != NULL ? path : MIME_FILE)) != NULL)
		mime_parse(mime_buf);
	else if (path != NULL)
		log_warn("%s: using built-in media types only", path);
	for (i = 0; i < MTD_ARRLEN(mime_builtin); i++) {
		type = mime_builtin[i].type;
		if (strncmp(type, "text/", 5) == 0 && charset != NULL &&
		    charset[0] != '\0') {
			if (asprintf(&mime_owned[i], "%s; charset=%s", type,
			    charset) == -1)
				fatal("mime table");
			type = mime_owned[i];
		}
		mime_insert(mime_builtin[i].ext, type);
	}
}

/*
 * Returns the media type for the extension (case-insensitive) of the last
 * segment of <path>, or MIME_DEFAULT when it has none, is unknown, or
 * mime_init() has not run. A leading dot (".htaccess") is no extension.
 * The string stays valid until the next mime_init() or mime_free().
 * Any process may call it.
 */
const char *
mime_type(const char *path)
{
	const char		*base, *dot;
	struct mime_entry	*e;
	char			 key[MIME_EXT_MAX + 1];
	size_t			 i;

	base = strrchr(path, '/');
	base = base != NULL ? base + 1 : path;
	dot = strrchr(base, '.');
	if (mime_tab == NULL || dot == NULL || dot == base || dot[1] == '\0')
		return MIME_DEFAULT;
	for (i = 0; dot[i + 1] != '\0'; i++) {
		if (i == MIME_EXT_MAX)
			return MIME_DEFAULT;
		key[i] = mime_lower(dot[i + 1]);
	}
	key[i] = '\0';
	e = mime_slot(mime_tab, mime_cap, key);
	return e->ext != NULL ? e->type : MIME_DEFAULT;
}

/* Frees the table; mime_type() answers MIME_DEFAULT after. Any process. */
void
mime_free(void)
{
	size_t	 i;

	for (i = 0; i < MTD_ARRLEN(mime_owned); i++) {
		free(mime_owned[i]);
		mime_owned[i] = NULL;
	}
	free(mime_tab);
	free(mime_buf);
	mime_tab = NULL;
	mime_buf = NULL;
	mime_cap = mime_n = 0;
}
