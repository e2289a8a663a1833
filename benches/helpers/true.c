/* true: the trivial static child of W1 and W6. */
#include <unistd.h>
int main(void) { _exit(0); }
