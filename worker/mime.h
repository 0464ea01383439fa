/*
 * Media types by file extension for the static-file server. mime_init()
 * builds an open-addressing hash table once (before fork, or again on
 * reload); every static response then costs one hash lookup.
 */
#ifndef MIME_H
#define MIME_H

#define MIME_DEFAULT	"application/octet-stream"

void		 mime_init(const char *path, const char *charset);
const char	*mime_type(const char *path);
void		 mime_free(void);

#endif /* MIME_H */
