# Parsers of a network namespace's /proc/<pid>/net files: dev, tcp/tcp6, udp/udp6.
from libc.stdint cimport uint64_t

# One interface of net/dev (cAdvisor's InterfaceStats). 80 bytes, no padding:
# a numpy dtype of ("name", "S16") + 8 x "<u8" maps it field for field.
cdef struct NetDevIface:
    char name[16]          # IFNAMSIZ: at most 15 bytes, NUL-padded
    uint64_t rx_bytes
    uint64_t rx_packets
    uint64_t rx_errors
    uint64_t rx_dropped
    uint64_t tx_bytes
    uint64_t tx_packets
    uint64_t tx_errors
    uint64_t tx_dropped

# Counts of sockets per TCP state (cAdvisor's TcpStat), fields in the kernel's
# state order: the value of the `st` column is the field's index + 1.
cdef struct TcpStat:
    uint64_t established   # 01
    uint64_t syn_sent      # 02
    uint64_t syn_recv      # 03
    uint64_t fin_wait1     # 04
    uint64_t fin_wait2     # 05
    uint64_t time_wait     # 06
    uint64_t close         # 07
    uint64_t close_wait    # 08
    uint64_t last_ack      # 09
    uint64_t listen        # 0A
    uint64_t closing       # 0B

# cAdvisor's UdpStat, each field with its documented meaning, plus how many
# socket lines had no drops column (older kernels print 12 columns, without it):
# `dropped` is the sum over the other lines only, so it is complete iff
# no_drops == 0.
cdef struct UdpStat:
    uint64_t listen        # number of sockets (every line, whatever its state)
    uint64_t dropped       # sum of the drops column
    uint64_t rx_queued     # sum of the kernel's rx_queue (bytes)
    uint64_t tx_queued     # sum of the kernel's tx_queue (bytes)
    uint64_t no_drops

cdef enum:
    NET_DEV_ALL = 0
    NET_DEV_SKIP_VIRTUAL = 1   # cAdvisor's skip list: lo*, veth*, docker*, nerdctl* (any case)

cdef int net_dev(const char *buf, Py_ssize_t n, NetDevIface *out, uint64_t cap,
                 uint64_t *count, uint64_t *overflow, int flags) noexcept nogil
cdef int tcp_states(const char *buf, Py_ssize_t n, TcpStat *out) noexcept nogil
cdef int udp_stats(const char *buf, Py_ssize_t n, UdpStat *out) noexcept nogil
