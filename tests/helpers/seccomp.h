/* seccomp.h: the refusals the test helpers can put on the program they start, as a runtime's
 * seccomp profile or a security module would. Included by ctr.c and pidns.c.
 *
 *   seccomp_rule("CALL:ERRNO")  answer CALL with ERRNO (ENOSYS, EPERM, EACCES), or kill the
 *                               caller (KILL); 8 rules at most; 0 for a rule it cannot parse
 *   seccomp_install()           no_new_privs, then the BPF filter of every rule given
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#if defined(__x86_64__)
#define SECCOMP_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SECCOMP_ARCH AUDIT_ARCH_AARCH64
#elif defined(__riscv) && __riscv_xlen == 64
#define SECCOMP_ARCH AUDIT_ARCH_RISCV64
#elif defined(__arm__)
#define SECCOMP_ARCH AUDIT_ARCH_ARM
#elif defined(__i386__)
#define SECCOMP_ARCH AUDIT_ARCH_I386
#else
#error "seccomp.h: add this architecture's AUDIT_ARCH"
#endif

#define SECCOMP_MAX_RULES 8
#define SECCOMP_CALLS "clone3, pivot_root, mount, umount2, move_mount, open_tree, fsopen, " \
                      "close_range, pidfd_open, rt_sigtimedwait, reboot"

/* The generic numbers of the newer calls (the same on every architecture since Linux 5.x). */
static const struct {
    const char *name;
    int nr;
} seccomp_calls[] = {
    { "clone3", 435 },          { "pivot_root", SYS_pivot_root },
    { "mount", SYS_mount },     { "umount2", SYS_umount2 },
    { "move_mount", 429 },      { "open_tree", 428 },
    { "fsopen", 430 },          { "close_range", 436 },
    { "pidfd_open", 434 },      { "rt_sigtimedwait", SYS_rt_sigtimedwait },
    { "reboot", SYS_reboot },
};

static int seccomp_nrules, seccomp_nr[SECCOMP_MAX_RULES], seccomp_errno[SECCOMP_MAX_RULES];

/* "CALL:ERRNO" into the rule list (errno -1 is KILL); 1 when taken, 0 when not. */
static int seccomp_rule(const char *rule)
{
    const char *colon = strchr(rule, ':');
    int nr = -1, err = 0;
    for (size_t i = 0; colon && i < sizeof seccomp_calls / sizeof *seccomp_calls; i++)
        if (strlen(seccomp_calls[i].name) == (size_t)(colon - rule) &&
            !strncmp(rule, seccomp_calls[i].name, (size_t)(colon - rule)))
            nr = seccomp_calls[i].nr;
    if (colon && !strcmp(colon + 1, "ENOSYS"))
        err = ENOSYS;
    else if (colon && !strcmp(colon + 1, "EPERM"))
        err = EPERM;
    else if (colon && !strcmp(colon + 1, "EACCES"))
        err = EACCES;
    else if (colon && !strcmp(colon + 1, "KILL"))
        err = -1;
    if (nr < 0 || !err || seccomp_nrules == SECCOMP_MAX_RULES)
        return 0;
    seccomp_nr[seccomp_nrules] = nr;
    seccomp_errno[seccomp_nrules++] = err;
    return 1;
}

/* One "deny CALL" rule: two instructions each, then allow. 0 on success, -1 with errno. */
static int seccomp_install(void)
{
    struct sock_filter filter[4 + 2 * SECCOMP_MAX_RULES];
    int n = 0;
    filter[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                               offsetof(struct seccomp_data, arch));
    filter[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SECCOMP_ARCH, 1, 0);
    filter[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    filter[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                               offsetof(struct seccomp_data, nr));
    for (int i = 0; i < seccomp_nrules; i++) {
        filter[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                                   (unsigned)seccomp_nr[i], 0, 1);
        filter[n++] = (struct sock_filter)BPF_STMT(
            BPF_RET | BPF_K, seccomp_errno[i] < 0
                                 ? SECCOMP_RET_KILL_PROCESS
                                 : SECCOMP_RET_ERRNO | (seccomp_errno[i] & SECCOMP_RET_DATA));
    }
    filter[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    struct sock_fprog prog = { .len = (unsigned short)n, .filter = filter };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}
