/*
 * MPTCP socket introspection: MPTCP_FULL_INFO, and MPTCP_TCPINFO /
 * MPTCP_SUBFLOW_ADDRS for kernels without it.  The raw bytes go to Python
 * (harness/host/sockinfo.py), which parses them.
 */
#include "engine.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#ifndef SOL_MPTCP
#define SOL_MPTCP 284
#endif
#ifndef MPTCP_FULL_INFO
#define MPTCP_FULL_INFO 4
#endif

/* Offsets of struct mptcp_full_info (include/uapi/linux/mptcp.h): six u32
 * sizes/counts, then two aligned u64 user pointers, then struct mptcp_info,
 * whose size grows with kernel versions. */
#define FI_SIZE_TCPINFO_KERNEL 0
#define FI_SIZE_TCPINFO_USER 4
#define FI_SIZE_SFINFO_KERNEL 8
#define FI_SIZE_SFINFO_USER 12
#define FI_NUM_SUBFLOWS 16
#define FI_SIZE_ARRAYS_USER 20
#define FI_SUBFLOW_INFO 24
#define FI_TCP_INFO 32
#define FI_MPTCP_INFO 40
#define FI_MPTCP_INFO_ROOM 512
#define ELEM_ROOM 512 /* per-subflow room: larger than any kernel's struct */

static uint32_t get_u32(const char *p, size_t off)
{
    uint32_t v;
    memcpy(&v, p + off, sizeof(v));
    return v;
}

static void put_u32(char *p, size_t off, uint32_t v) { memcpy(p + off, &v, sizeof(v)); }
static void put_u64(char *p, size_t off, uint64_t v) { memcpy(p + off, &v, sizeof(v)); }

/* n elements of `stride` bytes from base, as a list of bytes objects. */
static PyObject *elements(const char *base, uint32_t n, uint32_t stride)
{
    PyObject *list = PyList_New(n);
    for (uint32_t i = 0; list && i < n; i++) {
        PyObject *b = PyBytes_FromStringAndSize(base + (size_t)i * stride, (Py_ssize_t)stride);
        if (!b) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, b);
    }
    return list;
}

/* MPTCP_FULL_INFO: the kernel fills subflow ids/addresses and tcp_info into
 * arrays we provide, and reports its own element sizes; the raw bytes go to
 * Python (harness/host/sockinfo.py) which parses only what the kernel wrote. */
PyObject *eng_mptcp_full_info(PyObject *self, PyObject *args)
{
    int fd, max_subflows = 16;
    if (!PyArg_ParseTuple(args, "i|i", &fd, &max_subflows))
        return NULL;
    if (max_subflows <= 0 || max_subflows > 256)
        return PyErr_Format(PyExc_ValueError, "max_subflows must be within 1..256");
    char hdr[FI_MPTCP_INFO + FI_MPTCP_INFO_ROOM] = {0};
    char *sf = calloc((size_t)max_subflows, ELEM_ROOM);
    char *ti = calloc((size_t)max_subflows, ELEM_ROOM);
    PyObject *r = NULL;
    if (!sf || !ti) {
        PyErr_NoMemory();
        goto out;
    }
    put_u32(hdr, FI_SIZE_TCPINFO_USER, ELEM_ROOM);
    put_u32(hdr, FI_SIZE_SFINFO_USER, ELEM_ROOM);
    put_u32(hdr, FI_SIZE_ARRAYS_USER, (uint32_t)max_subflows);
    put_u64(hdr, FI_SUBFLOW_INFO, (uint64_t)(uintptr_t)sf);
    put_u64(hdr, FI_TCP_INFO, (uint64_t)(uintptr_t)ti);
    socklen_t len = sizeof(hdr);
    if (getsockopt(fd, SOL_MPTCP, MPTCP_FULL_INFO, hdr, &len) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        goto out;
    }
    /* The kernel writes min(our size, its size) per element and packs the
     * arrays with that stride, which it reports back in the *_user fields. */
    uint32_t tsize = get_u32(hdr, FI_SIZE_TCPINFO_USER);
    uint32_t ssize = get_u32(hdr, FI_SIZE_SFINFO_USER);
    uint32_t n = get_u32(hdr, FI_NUM_SUBFLOWS);
    uint32_t filled = MIN(n, (uint32_t)max_subflows);
    if (tsize > ELEM_ROOM || ssize > ELEM_ROOM) {
        PyErr_SetString(PyExc_OSError, "MPTCP_FULL_INFO: element size beyond the buffer");
        goto out;
    }
    PyObject *sfl = elements(sf, filled, ssize), *til = elements(ti, filled, tsize);
    PyObject *pairs = sfl && til ? PyObject_CallFunction((PyObject *)&PyZip_Type, "OO", sfl, til) : NULL;
    PyObject *subflows = pairs ? PySequence_List(pairs) : NULL;
    Py_XDECREF(sfl);
    Py_XDECREF(til);
    Py_XDECREF(pairs);
    if (!subflows)
        goto out;
    Py_ssize_t mi = len > FI_MPTCP_INFO ? (Py_ssize_t)(len - FI_MPTCP_INFO) : 0;
    r = Py_BuildValue("{s:I,s:I,s:I,s:y#,s:N}", "num_subflows", n, "size_tcpinfo_kernel",
                      get_u32(hdr, FI_SIZE_TCPINFO_KERNEL), "size_sfinfo_kernel",
                      get_u32(hdr, FI_SIZE_SFINFO_KERNEL), "mptcp_info", hdr + FI_MPTCP_INFO, mi,
                      "subflows", subflows);
out:
    free(sf);
    free(ti);
    return r;
}

/* MPTCP_TCPINFO and MPTCP_SUBFLOW_ADDRS (kernels before MPTCP_FULL_INFO):
 * a struct mptcp_subflow_data header {size_subflow_data, num_subflows,
 * size_kernel, size_user}, then the elements packed with the stride the
 * kernel writes back into size_user. */
PyObject *eng_mptcp_subflow_data(PyObject *self, PyObject *args)
{
    int fd, optname, max_subflows = 16;
    if (!PyArg_ParseTuple(args, "ii|i", &fd, &optname, &max_subflows))
        return NULL;
    if (max_subflows <= 0 || max_subflows > 256)
        return PyErr_Format(PyExc_ValueError, "max_subflows must be within 1..256");
    const uint32_t hdr = 16;
    socklen_t len = hdr + (socklen_t)max_subflows * ELEM_ROOM;
    char *buf = calloc(1, len);
    if (!buf)
        return PyErr_NoMemory();
    put_u32(buf, 0, hdr);
    put_u32(buf, 12, ELEM_ROOM);
    PyObject *r = NULL;
    if (getsockopt(fd, SOL_MPTCP, optname, buf, &len) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
    } else {
        uint32_t stride = get_u32(buf, 12), n = get_u32(buf, 4);
        uint32_t filled = stride && len > hdr ? MIN(n, (uint32_t)((len - hdr) / stride)) : 0;
        if (stride > ELEM_ROOM)
            PyErr_SetString(PyExc_OSError, "mptcp_subflow_data: element size beyond the buffer");
        else
            r = Py_BuildValue("{s:I,s:I,s:I,s:N}", "num_subflows", n, "size_kernel", get_u32(buf, 8),
                              "size_user", stride, "elements", elements(buf + hdr, filled, stride));
    }
    free(buf);
    return r;
}
