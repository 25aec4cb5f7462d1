/*
 * Reuses zstd compression contexts across the Parquet library's pages.
 *
 * Why: Arrow compresses every Parquet page with zstd's one-shot ZSTD_compress(), which creates a context and frees it
 * again for each page. Creating one runs the CPUID instruction three times (zstd checks for BMI2), and in a virtual
 * machine CPUID traps to the hypervisor: 9.4 us each on the 2-core machine the benchmarks run on, ~28 us a page. A run
 * of many small row groups (partitions, many streams) writes thousands of pages: 38 ms of a partitioned 1M-row run's
 * encoding went there (bench/README.md, "Parquet pages and CPUID").
 *
 * How: the native binary defines ZSTD_createCCtx and ZSTD_freeCCtx itself and exports them. ParquetSharp's library
 * (which links zstd statically but calls these two through its procedure linkage table) then binds to these, as it
 * would to an LD_PRELOAD. A freed context is reset (parameters and session) and kept for the next page instead of
 * freed; ZSTD_compress compresses with the level it is given on a reset context exactly as on a new one, so the files
 * are byte for byte the same. Only contexts created here are kept, at most MAX_IDLE of them.
 *
 * Every other caller keeps its own zstd: a call is served from the pool only when it comes from the library the pool
 * belongs to (the first one to call); a call from any other library (a system libzstd whose version may differ) goes to
 * that library's own functions. Nothing here is used where the binary is not Native AOT (the JIT build and tests run
 * ParquetSharp's zstd unchanged).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>

typedef void *(*create_fn)(void);
typedef size_t (*free_fn)(void *);
typedef size_t (*reset_fn)(void *, int);
typedef size_t (*sizeof_fn)(const void *);

/* ZSTD_ResetDirective: parameters and session, as a new context has them. */
#define ZSTD_RESET_SESSION_AND_PARAMETERS 3
#define MAX_IDLE 8
#define MAX_CREATED 64
#define MAX_CALLERS 16
/*
 * Only contexts whose workspace is small are kept: the CPUID cost matters for small pages (many partitions, many
 * streams), where it is a large share of a page's compression; a context sized for megabyte pages is freed as before.
 */
#define MAX_KEPT_BYTES (1024 * 1024)

struct zstd_impl {
    const void *base; /* load address of the library that defines these */
    create_fn create;
    free_fn free;
    reset_fn reset;
    sizeof_fn size;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct zstd_impl owner;        /* the pool's library; set once, under the lock */
static void *idle[MAX_IDLE];          /* reset contexts ready for the next page */
static int idle_count;
static void *created[MAX_CREATED];    /* contexts created for the pool (only these are kept) */
static int created_count;
static const void *owner_callers[MAX_CALLERS]; /* return addresses already found inside the owner */
static int owner_caller_count;

/* The zstd functions of the library that contains `caller`; 0 when they cannot be found. */
static int resolve(const void *caller, struct zstd_impl *impl)
{
    Dl_info info;
    if (!dladdr(caller, &info) || info.dli_fname == NULL) return 0;
    void *library = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    if (library == NULL) return 0;
    /* A library handle looks in that library (and its dependencies) only: its own definitions, not these. */
    impl->base = info.dli_fbase;
    impl->create = (create_fn)dlsym(library, "ZSTD_createCCtx");
    impl->free = (free_fn)dlsym(library, "ZSTD_freeCCtx");
    impl->reset = (reset_fn)dlsym(library, "ZSTD_CCtx_reset");
    impl->size = (sizeof_fn)dlsym(library, "ZSTD_sizeof_CCtx");
    dlclose(library);
    return impl->create != NULL && impl->free != NULL && impl->reset != NULL && impl->size != NULL;
}

/*
 * 1 when `caller` lies in the pool's library (the first call decides which that is); else 0 with `other` filled with
 * the caller's own functions, or -1 when they cannot be found. dladdr scans a library's symbol table, so the return
 * addresses found inside the owner are remembered: there are only a few (ZSTD_compress and its kin).
 */
static int from_owner(const void *caller, struct zstd_impl *other)
{
    int known = __atomic_load_n(&owner_caller_count, __ATOMIC_ACQUIRE);
    for (int i = 0; i < known; i++)
        if (owner_callers[i] == caller) return 1;
    struct zstd_impl found = {0};
    if (!resolve(caller, &found)) return -1;
    int result;
    pthread_mutex_lock(&lock);
    if (owner.base == NULL) owner = found;
    result = owner.base == found.base;
    if (result && owner_caller_count < MAX_CALLERS) {
        owner_callers[owner_caller_count] = caller;
        __atomic_store_n(&owner_caller_count, owner_caller_count + 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&lock);
    if (!result) *other = found;
    return result;
}

__attribute__((visibility("default"))) void *ZSTD_createCCtx(void)
{
    struct zstd_impl other;
    int mine = from_owner(__builtin_return_address(0), &other);
    if (mine < 0) return NULL; /* the caller's zstd cannot be found: it reports an allocation failure */
    if (mine == 0) return other.create();
    void *context = NULL;
    pthread_mutex_lock(&lock);
    if (idle_count > 0) context = idle[--idle_count];
    pthread_mutex_unlock(&lock);
    if (context != NULL) return context;
    context = owner.create();
    if (context != NULL) {
        pthread_mutex_lock(&lock);
        if (created_count < MAX_CREATED) created[created_count++] = context;
        pthread_mutex_unlock(&lock);
    }
    return context;
}

__attribute__((visibility("default"))) size_t ZSTD_freeCCtx(void *context)
{
    if (context == NULL) return 0;
    struct zstd_impl other;
    int mine = from_owner(__builtin_return_address(0), &other);
    if (mine < 0) return 0; /* leaked rather than freed by the wrong zstd */
    if (mine == 0) return other.free(context);
    int pooled = 0;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < created_count && !pooled; i++) pooled = created[i] == context;
    pthread_mutex_unlock(&lock);
    /* Reset outside the lock: it is this context's own state, and only this thread holds it now. */
    int reset = pooled && owner.size(context) <= MAX_KEPT_BYTES && owner.reset(context, ZSTD_RESET_SESSION_AND_PARAMETERS) == 0;
    int kept = 0;
    pthread_mutex_lock(&lock);
    if (reset && idle_count < MAX_IDLE) {
        idle[idle_count++] = context;
        kept = 1;
    }
    else
        for (int i = 0; i < created_count; i++)
            if (created[i] == context) {
                created[i] = created[--created_count];
                break;
            }
    pthread_mutex_unlock(&lock);
    return kept ? 0 : owner.free(context);
}
