/*
 * Process titles, as ps shows them: "maitred: master process FILE",
 * "maitred: worker process".
 */
#ifndef TITLE_H
#define TITLE_H

/* Before anything reads argv or environ: they may move. */
void	 title_init(int argc, char **argv, char **envp);
void	 title_set(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

#endif /* TITLE_H */
