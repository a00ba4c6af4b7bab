/* The "application" that tests/static/run.sh puts in the empty root beside preflight: a static
 * program that proves preflight exec'd it, with its arguments and the environment intact. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    printf("preflight-static-app: ran with %d argument(s):", argc - 1);
    for (int i = 1; i < argc; i++) {
        printf(" %s", argv[i]);
    }
    printf("\npreflight-static-app: DATABASE_URL is %s\n", getenv("DATABASE_URL") ? "set" : "unset");
    return 0;
}
