// Minimal N-API binding over the bpf() syscall, for logban's XDP backend. It exists because map
// updates through `bpftool batch` top out near 78,000/s, while BPF_MAP_UPDATE_BATCH on a pinned
// map takes millions per second: one N-API crossing per coalesced batch, one syscall per batch.
// Plain N-API C (node_api.h) so it needs no npm package to build.

#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef ENOTSUPP
#define ENOTSUPP 524 // kernel-internal "operation not supported", leaks through bpf()
#endif

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static napi_value throw_errno(napi_env env, const char *what, int err)
{
	char msg[4400];
	char code[32];
	snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
	snprintf(code, sizeof code, "%d", err);
	napi_throw_error(env, code, msg);
	return NULL;
}

#define CHECK(call)                                                   \
	do {                                                          \
		if ((call) != napi_ok) {                              \
			napi_throw_error(env, NULL, "bad arguments: " #call); \
			return NULL;                                  \
		}                                                     \
	} while (0)

static napi_value make_u32(napi_env env, uint32_t v)
{
	napi_value r;
	napi_create_uint32(env, v, &r);
	return r;
}

// objGet(path: string): number — fd of a pinned map (BPF_OBJ_GET)
static napi_value obj_get(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1];
	char path[4096];
	size_t len;
	union bpf_attr attr;
	long fd;

	CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	CHECK(napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len));
	memset(&attr, 0, sizeof attr);
	attr.pathname = (uint64_t)(uintptr_t)path;
	fd = sys_bpf(BPF_OBJ_GET, &attr);
	if (fd < 0) {
		char what[4200];
		snprintf(what, sizeof what, "BPF_OBJ_GET %s", path);
		return throw_errno(env, what, errno);
	}
	napi_value r;
	napi_create_int32(env, (int32_t)fd, &r);
	return r;
}

// close(fd: number): void
static napi_value close_fd(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1];
	int32_t fd;
	CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	CHECK(napi_get_value_int32(env, argv[0], &fd));
	close(fd);
	return NULL;
}

static int update_one(int fd, const void *key, const void *value)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof attr);
	attr.map_fd = fd;
	attr.key = (uint64_t)(uintptr_t)key;
	attr.value = (uint64_t)(uintptr_t)value;
	attr.flags = BPF_ANY;
	return sys_bpf(BPF_MAP_UPDATE_ELEM, &attr) < 0 ? errno : 0;
}

static int delete_one(int fd, const void *key)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof attr);
	attr.map_fd = fd;
	attr.key = (uint64_t)(uintptr_t)key;
	return sys_bpf(BPF_MAP_DELETE_ELEM, &attr) < 0 ? errno : 0;
}

static int get_buffer(napi_env env, napi_value v, void **data, size_t *len)
{
	return napi_get_buffer_info(env, v, data, len) == napi_ok ? 0 : -1;
}

// updateMany(fd, keys: Buffer, keySize, values: Buffer, valueSize): number
// Inserts or replaces count = keys.length / keySize elements. Uses BPF_MAP_UPDATE_BATCH and
// falls back to one BPF_MAP_UPDATE_ELEM per element for map types without batch support
// (LPM tries). Returns the number written; throws on the first hard error.
static napi_value update_many(napi_env env, napi_callback_info info)
{
	size_t argc = 5;
	napi_value argv[5];
	int32_t fd;
	uint32_t ksz, vsz;
	void *keys, *values;
	size_t klen, vlen;

	CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	CHECK(napi_get_value_int32(env, argv[0], &fd));
	CHECK(napi_get_value_uint32(env, argv[2], &ksz));
	CHECK(napi_get_value_uint32(env, argv[4], &vsz));
	if (get_buffer(env, argv[1], &keys, &klen) || get_buffer(env, argv[3], &values, &vlen) ||
	    ksz == 0 || vsz == 0 || klen % ksz || vlen != (klen / ksz) * vsz) {
		napi_throw_range_error(env, NULL, "updateMany: key/value buffers do not match sizes");
		return NULL;
	}
	uint32_t count = (uint32_t)(klen / ksz);
	if (count == 0)
		return make_u32(env, 0);

	union bpf_attr attr;
	memset(&attr, 0, sizeof attr);
	attr.batch.map_fd = fd;
	attr.batch.keys = (uint64_t)(uintptr_t)keys;
	attr.batch.values = (uint64_t)(uintptr_t)values;
	attr.batch.count = count;
	attr.batch.elem_flags = BPF_ANY;
	if (sys_bpf(BPF_MAP_UPDATE_BATCH, &attr) == 0)
		return make_u32(env, count);
	int err = errno;
	uint32_t done = attr.batch.count; // the kernel reports how many went in before the error
	if (err != EINVAL && err != ENOTSUPP && err != EOPNOTSUPP)
		return throw_errno(env, "BPF_MAP_UPDATE_BATCH", err);
	if (done > count)
		done = 0;
	for (uint32_t i = done; i < count; i++) {
		err = update_one(fd, (char *)keys + (size_t)i * ksz, (char *)values + (size_t)i * vsz);
		if (err)
			return throw_errno(env, "BPF_MAP_UPDATE_ELEM", err);
	}
	return make_u32(env, count);
}

// deleteMany(fd, keys: Buffer, keySize): number — deletes each key, ignoring keys that are
// not there (already gone is the state we want). Returns the number actually deleted.
static napi_value delete_many(napi_env env, napi_callback_info info)
{
	size_t argc = 3;
	napi_value argv[3];
	int32_t fd;
	uint32_t ksz;
	void *keys;
	size_t klen;

	CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	CHECK(napi_get_value_int32(env, argv[0], &fd));
	CHECK(napi_get_value_uint32(env, argv[2], &ksz));
	if (get_buffer(env, argv[1], &keys, &klen) || ksz == 0 || klen % ksz) {
		napi_throw_range_error(env, NULL, "deleteMany: key buffer does not match key size");
		return NULL;
	}
	uint32_t count = (uint32_t)(klen / ksz), deleted = 0, i = 0;
	int batch_ok = 1;
	while (i < count) {
		if (batch_ok) {
			union bpf_attr attr;
			memset(&attr, 0, sizeof attr);
			attr.batch.map_fd = fd;
			attr.batch.keys = (uint64_t)(uintptr_t)((char *)keys + (size_t)i * ksz);
			attr.batch.count = count - i;
			if (sys_bpf(BPF_MAP_DELETE_BATCH, &attr) == 0) {
				deleted += count - i;
				break;
			}
			int err = errno;
			uint32_t done = attr.batch.count <= count - i ? attr.batch.count : 0;
			deleted += done;
			i += done;
			if (err == ENOENT) {
				i++; // skip the missing key, resume the batch after it
				continue;
			}
			if (err != EINVAL && err != ENOTSUPP && err != EOPNOTSUPP)
				return throw_errno(env, "BPF_MAP_DELETE_BATCH", err);
			batch_ok = 0;
		}
		int err = delete_one(fd, (char *)keys + (size_t)i * ksz);
		if (err == 0)
			deleted++;
		else if (err != ENOENT)
			return throw_errno(env, "BPF_MAP_DELETE_ELEM", err);
		i++;
	}
	return make_u32(env, deleted);
}

// lookup(fd, key: Buffer, valueSize): Buffer | null. For per-CPU maps valueSize must cover
// every possible CPU (each slot rounded up to 8 bytes).
static napi_value lookup(napi_env env, napi_callback_info info)
{
	size_t argc = 3;
	napi_value argv[3];
	int32_t fd;
	uint32_t vsz;
	void *key;
	size_t klen;
	void *out;
	napi_value buf;

	CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	CHECK(napi_get_value_int32(env, argv[0], &fd));
	CHECK(napi_get_value_uint32(env, argv[2], &vsz));
	if (get_buffer(env, argv[1], &key, &klen) || vsz == 0) {
		napi_throw_range_error(env, NULL, "lookup: bad key buffer or value size");
		return NULL;
	}
	CHECK(napi_create_buffer(env, vsz, &out, &buf));
	union bpf_attr attr;
	memset(&attr, 0, sizeof attr);
	attr.map_fd = fd;
	attr.key = (uint64_t)(uintptr_t)key;
	attr.value = (uint64_t)(uintptr_t)out;
	if (sys_bpf(BPF_MAP_LOOKUP_ELEM, &attr) < 0) {
		if (errno == ENOENT) {
			napi_value nul;
			napi_get_null(env, &nul);
			return nul;
		}
		return throw_errno(env, "BPF_MAP_LOOKUP_ELEM", errno);
	}
	return buf;
}

// mapId(fd): number — the kernel's id of the map, to tell whether a pin still names our map.
static napi_value map_id(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1];
	int32_t fd;
	struct bpf_map_info mi;
	union bpf_attr attr;

	CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	CHECK(napi_get_value_int32(env, argv[0], &fd));
	memset(&mi, 0, sizeof mi);
	memset(&attr, 0, sizeof attr);
	attr.info.bpf_fd = fd;
	attr.info.info_len = sizeof mi;
	attr.info.info = (uint64_t)(uintptr_t)&mi;
	if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr) < 0)
		return throw_errno(env, "BPF_OBJ_GET_INFO_BY_FD", errno);
	return make_u32(env, mi.id);
}

// keys(fd, keySize): Buffer — every key of the map, concatenated (BPF_MAP_GET_NEXT_KEY walk).
// Used once at start to find entries that no ban claims any more. Were a key deleted during the
// walk, the kernel would restart from the first key and keys could repeat: treat it as a set.
static napi_value keys(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2];
	int32_t fd;
	uint32_t ksz;
	CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	CHECK(napi_get_value_int32(env, argv[0], &fd));
	CHECK(napi_get_value_uint32(env, argv[1], &ksz));
	if (ksz == 0 || ksz > 64) {
		napi_throw_range_error(env, NULL, "keys: bad key size");
		return NULL;
	}
	size_t cap = 1024, n = 0;
	uint8_t *all = malloc(cap * ksz);
	if (!all)
		return throw_errno(env, "keys", ENOMEM);
	union bpf_attr attr;
	for (;;) {
		memset(&attr, 0, sizeof attr);
		attr.map_fd = fd;
		// NULL key: the first key; otherwise the key after the last one collected
		attr.key = n == 0 ? 0 : (uint64_t)(uintptr_t)(all + (n - 1) * ksz);
		if (n == cap) {
			uint8_t *grown = realloc(all, cap * 2 * ksz);
			if (!grown) {
				free(all);
				return throw_errno(env, "keys", ENOMEM);
			}
			all = grown;
			cap *= 2;
			attr.key = (uint64_t)(uintptr_t)(all + (n - 1) * ksz);
		}
		attr.next_key = (uint64_t)(uintptr_t)(all + n * ksz);
		if (sys_bpf(BPF_MAP_GET_NEXT_KEY, &attr) < 0) {
			int err = errno;
			if (err == ENOENT)
				break;
			free(all);
			return throw_errno(env, "BPF_MAP_GET_NEXT_KEY", err);
		}
		n++;
	}
	napi_value buf;
	void *out;
	napi_status st = napi_create_buffer_copy(env, n * ksz, all, &out, &buf);
	free(all);
	if (st != napi_ok) {
		napi_throw_error(env, NULL, "keys: cannot allocate the result");
		return NULL;
	}
	return buf;
}

static napi_value init(napi_env env, napi_value exports)
{
	napi_property_descriptor props[] = {
		{ "objGet", NULL, obj_get, NULL, NULL, NULL, napi_enumerable, NULL },
		{ "close", NULL, close_fd, NULL, NULL, NULL, napi_enumerable, NULL },
		{ "updateMany", NULL, update_many, NULL, NULL, NULL, napi_enumerable, NULL },
		{ "deleteMany", NULL, delete_many, NULL, NULL, NULL, napi_enumerable, NULL },
		{ "lookup", NULL, lookup, NULL, NULL, NULL, napi_enumerable, NULL },
		{ "mapId", NULL, map_id, NULL, NULL, NULL, napi_enumerable, NULL },
		{ "keys", NULL, keys, NULL, NULL, NULL, napi_enumerable, NULL },
	};
	napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
	return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
