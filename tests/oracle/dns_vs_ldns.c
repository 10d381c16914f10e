/* SPDX-License-Identifier: BSD-2-Clause
 *
 * dns_vs_ldns.c - oracle test: our DNS wire parser against ldns, over every
 * DNS message of every shared capture.
 *
 * Frames are read with libfstrm and decoded with protobuf-c (generated from
 * proto/dnstap.proto), so none of our dnstap code is involved. Each
 * query_message and response_message is parsed by ldns_wire2pkt() and by
 * tp_dns_parse(): both must accept it or both reject it, and when both
 * accept it they must agree on the header (id, flags, opcode, counts), the
 * 12-bit rcode, the first question (name compared as case-folded wire
 * octets, type, class) and the EDNS fields (presence, UDP size, version, DO,
 * Client Subnet). Our presentation form of the qname is also checked
 * against ldns_rdf2str() after undoing the three escapes only we add.
 *
 * Known divergences (there are none on the shared captures): we reject OPT
 * outside the additional section, a second OPT, an OPT not owned by the
 * root, pointers into the header or forward pointers, and RDATA whose
 * embedded names overrun RDLENGTH; ldns accepts them. ldns also resumes
 * after an RR where its field-by-field RDATA decoding stopped rather than
 * at RDLENGTH (ldns_wire2rdf), so when RDATA is longer than its fields it
 * parses the following records from the wrong offset and may accept what
 * runs past the end for us. The other way round, ldns checks the RDATA of
 * every type it knows field by field (e.g. the SvcPriority of HTTPS), we
 * only the layouts listed in wire.c. A differential fuzz run found only
 * these classes. Such messages are counted as mismatches here, so a
 * capture that contains one shows up and can be judged case by case.
 *
 * argv[1] = the shared directory; every *.dnstap under argv[1]/data is read.
 * Exit 0 all equal, 1 a mismatch or an unreadable capture, 77 skipped.
 */
#include <dirent.h>
#include <fstrm.h>
#include <ldns/ldns.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnstap.pb-c.h"
#include "dns/dns.h"
#include "util/ascii.h"

/* Header flag bits, RFC 1035 §4.1.1 and RFC 4035 §3.2 (AD, CD). */
#define F_QR 0x8000u
#define F_AA 0x0400u
#define F_TC 0x0200u
#define F_RD 0x0100u
#define F_RA 0x0080u
#define F_AD 0x0020u
#define F_CD 0x0010u

#define MAX_REPORTS 30ul

struct file_stats {
	unsigned long frames;
	unsigned long undecodable; /* dnstap frames protobuf-c rejects */
	unsigned long messages;
	unsigned long both_ok;
	unsigned long both_failed;
	unsigned long mismatches;
	unsigned long failed_by_code[16]; /* both failed: our code - TP_EMALF */
};

static unsigned long reports;

static void mismatch(struct file_stats *st, const char *file,
		     unsigned long frame, const char *which, const char *what,
		     long ours, long theirs)
{
	st->mismatches++;
	if (reports++ < MAX_REPORTS)
		fprintf(stderr,
			"MISMATCH %s frame %lu %s: %s: tapir %ld, ldns %ld\n",
			file, frame, which, what, ours, theirs);
}

/* Our presentation form escapes '"', '@' and '$' as well; ldns does not
 * (README-dnstap "The oracle"). Drop those three backslashes. */
static void undo_extra_escapes(const char *in, char *out, size_t size)
{
	size_t o = 0;
	for (size_t i = 0; in[i] != '\0' && o + 1 < size; i++) {
		if (in[i] == '\\' && (in[i + 1] == '"' || in[i + 1] == '@' ||
				      in[i + 1] == '$'))
			continue;
		if (in[i] == '\\' && in[i + 1] != '\0') {
			out[o++] = in[i++]; /* keep other escapes whole */
			if (o + 1 >= size)
				break;
		}
		out[o++] = in[i];
	}
	out[o] = '\0';
}

static bool ldns_has_ecs(ldns_pkt *pkt)
{
	ldns_edns_option_list *list = ldns_pkt_edns_get_option_list(pkt);
	if (list == NULL)
		return false;
	size_t n = ldns_edns_option_list_get_count(list);
	for (size_t i = 0; i < n; i++) {
		ldns_edns_option *o = ldns_edns_option_list_get_option(list, i);
		if (o != NULL && ldns_edns_get_code(o) == LDNS_EDNS_CLIENT_SUBNET)
			return true;
	}
	return false;
}

static void compare_question(struct file_stats *st, const char *file,
			     unsigned long frame, const char *which,
			     const struct tp_dns_msg *m, ldns_pkt *pkt)
{
	ldns_rr_list *ql = ldns_pkt_question(pkt);
	if (ldns_rr_list_rr_count(ql) != m->qdcount) {
		mismatch(st, file, frame, which, "questions parsed",
			 (long)m->qdcount, (long)ldns_rr_list_rr_count(ql));
		return;
	}
	if (m->qdcount == 0)
		return;
	ldns_rr *q = ldns_rr_list_rr(ql, 0);
	const ldns_rdf *owner = ldns_rr_owner(q);
	const uint8_t *lw = ldns_rdf_data(owner);
	size_t ll = ldns_rdf_size(owner);

	if (ll != m->qname.len) {
		mismatch(st, file, frame, which, "qname length",
			 (long)m->qname.len, (long)ll);
	} else {
		for (size_t i = 0; i < ll; i++) {
			if (tp_ascii_tolower(m->qname.wire[i]) !=
			    tp_ascii_tolower(lw[i])) {
				mismatch(st, file, frame, which,
					 "qname octet (offset in ours)",
					 (long)i, (long)i);
				break;
			}
		}
	}
	if (m->qtype != (uint16_t)ldns_rr_get_type(q))
		mismatch(st, file, frame, which, "qtype", m->qtype,
			 (long)ldns_rr_get_type(q));
	if (m->qclass != (uint16_t)ldns_rr_get_class(q))
		mismatch(st, file, frame, which, "qclass", m->qclass,
			 (long)ldns_rr_get_class(q));

	/* Presentation form, and the label split must work on any name
	 * that parsed. */
	char ours[TP_DNS_PRESENT_MAX];
	char norm[TP_DNS_PRESENT_MAX];
	int n = tp_dns_name_present(&m->qname, ours, sizeof(ours));
	char *theirs = ldns_rdf2str(owner);
	if (n < 0 || theirs == NULL) {
		mismatch(st, file, frame, which, "qname presentation status",
			 n, theirs != NULL);
	} else {
		undo_extra_escapes(ours, norm, sizeof(norm));
		if (strcmp(norm, theirs) != 0) {
			st->mismatches++;
			if (reports++ < MAX_REPORTS)
				fprintf(stderr,
					"MISMATCH %s frame %lu %s: qname text "
					"'%s' vs ldns '%s'\n",
					file, frame, which, ours, theirs);
		}
	}
	free(theirs);
	struct tp_dns_labels labels;
	int rc = tp_dns_name_labels(&m->qname, &labels);
	if (rc != 0)
		mismatch(st, file, frame, which, "label split", rc, 0);
}

static void compare_message(struct file_stats *st, const char *file,
			    unsigned long frame, const char *which,
			    const uint8_t *wire, size_t len)
{
	ldns_pkt *pkt = NULL;
	ldns_status ls = ldns_wire2pkt(&pkt, wire, len);
	struct tp_dns_msg m;
	int rc = tp_dns_parse(wire, len, &m);

	st->messages++;
	if (ls != LDNS_STATUS_OK && rc != 0) {
		st->both_failed++;
		long idx = TP_EMALF - rc;
		if (idx >= 0 && idx < 16)
			st->failed_by_code[idx]++;
		return;
	}
	if ((ls == LDNS_STATUS_OK) != (rc == 0)) {
		st->mismatches++;
		if (reports++ < MAX_REPORTS)
			fprintf(stderr,
				"MISMATCH %s frame %lu %s: verdict: tapir %s, "
				"ldns %s (%zu octets)\n",
				file, frame, which, tp_strerror(rc),
				ldns_get_errorstr_by_id(ls), len);
		goto out;
	}
	st->both_ok++;

	const unsigned long before = st->mismatches;
	if (m.id != ldns_pkt_id(pkt))
		mismatch(st, file, frame, which, "id", m.id, ldns_pkt_id(pkt));
	if (m.opcode != (uint8_t)ldns_pkt_get_opcode(pkt))
		mismatch(st, file, frame, which, "opcode", m.opcode,
			 (long)ldns_pkt_get_opcode(pkt));
	static const struct {
		uint16_t bit;
		const char *name;
		bool (*get)(const ldns_pkt *);
	} flags[] = {
		{ F_QR, "QR", ldns_pkt_qr }, { F_AA, "AA", ldns_pkt_aa },
		{ F_TC, "TC", ldns_pkt_tc }, { F_RD, "RD", ldns_pkt_rd },
		{ F_RA, "RA", ldns_pkt_ra }, { F_AD, "AD", ldns_pkt_ad },
		{ F_CD, "CD", ldns_pkt_cd },
	};
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		bool ours = (m.flags & flags[i].bit) != 0;
		if (ours != flags[i].get(pkt))
			mismatch(st, file, frame, which, flags[i].name, ours,
				 flags[i].get(pkt));
	}

	/* RFC 6891 §6.1.3: 12-bit rcode = EXTENDED-RCODE << 4 | header. */
	long lrcode = ((long)ldns_pkt_edns_extended_rcode(pkt) << 4) |
		      (long)ldns_pkt_get_rcode(pkt);
	if (m.rcode != lrcode)
		mismatch(st, file, frame, which, "rcode", m.rcode, lrcode);

	if (m.qdcount != ldns_pkt_qdcount(pkt))
		mismatch(st, file, frame, which, "qdcount", m.qdcount,
			 ldns_pkt_qdcount(pkt));
	if (m.ancount != ldns_pkt_ancount(pkt))
		mismatch(st, file, frame, which, "ancount", m.ancount,
			 ldns_pkt_ancount(pkt));
	if (m.nscount != ldns_pkt_nscount(pkt))
		mismatch(st, file, frame, which, "nscount", m.nscount,
			 ldns_pkt_nscount(pkt));
	/* ldns subtracts the OPT and TSIG records it takes out. */
	long ar = (long)m.arcount - (m.has_opt ? 1 : 0) -
		  (ldns_pkt_tsig(pkt) != NULL ? 1 : 0);
	if (ar != ldns_pkt_arcount(pkt))
		mismatch(st, file, frame, which, "arcount (OPT, TSIG removed)",
			 ar, ldns_pkt_arcount(pkt));

	if (m.has_opt != ldns_pkt_edns(pkt)) {
		mismatch(st, file, frame, which, "OPT present", m.has_opt,
			 ldns_pkt_edns(pkt));
	} else if (m.has_opt) {
		if (m.edns_udp_size != ldns_pkt_edns_udp_size(pkt))
			mismatch(st, file, frame, which, "EDNS UDP size",
				 m.edns_udp_size, ldns_pkt_edns_udp_size(pkt));
		if (m.edns_version != ldns_pkt_edns_version(pkt))
			mismatch(st, file, frame, which, "EDNS version",
				 m.edns_version, ldns_pkt_edns_version(pkt));
		if (m.edns_do != ldns_pkt_edns_do(pkt))
			mismatch(st, file, frame, which, "EDNS DO", m.edns_do,
				 ldns_pkt_edns_do(pkt));
		if (m.has_ecs != ldns_has_ecs(pkt))
			mismatch(st, file, frame, which, "ECS option",
				 m.has_ecs, ldns_has_ecs(pkt));
	}

	compare_question(st, file, frame, which, &m, pkt);
	if (st->mismatches != before && reports <= MAX_REPORTS)
		fprintf(stderr, "  (message of %zu octets)\n", len);
out:
	ldns_pkt_free(pkt);
}

static int check_file(const char *path, struct file_stats *st)
{
	struct fstrm_file_options *fopt = fstrm_file_options_init();
	if (fopt == NULL)
		return -1;
	fstrm_file_options_set_file_path(fopt, path);
	struct fstrm_reader *r = fstrm_file_reader_init(fopt, NULL);
	fstrm_file_options_destroy(&fopt);
	if (r == NULL || fstrm_reader_open(r) != fstrm_res_success) {
		fprintf(stderr, "%s: libfstrm cannot open it\n", path);
		if (r != NULL)
			fstrm_reader_destroy(&r);
		return -1;
	}
	const uint8_t *data;
	size_t len;
	fstrm_res res;
	while ((res = fstrm_reader_read(r, &data, &len)) == fstrm_res_success) {
		st->frames++;
		Dnstap__Dnstap *d = dnstap__dnstap__unpack(NULL, len, data);
		if (d == NULL) {
			st->undecodable++;
			continue;
		}
		const Dnstap__Message *x = d->message;
		if (x != NULL && x->has_query_message)
			compare_message(st, path, st->frames, "query_message",
					x->query_message.data,
					x->query_message.len);
		if (x != NULL && x->has_response_message)
			compare_message(st, path, st->frames,
					"response_message",
					x->response_message.data,
					x->response_message.len);
		dnstap__dnstap__free_unpacked(d, NULL);
	}
	fstrm_reader_destroy(&r);
	if (res != fstrm_res_stop) {
		fprintf(stderr, "%s: libfstrm read error after %lu frames\n",
			path, st->frames);
		return -1;
	}
	return 0;
}

static void print_file(const char *path, const struct file_stats *st)
{
	printf("%s: %lu frames, %lu messages compared (%lu both parsed, "
	       "%lu both failed), %lu mismatches",
	       path, st->frames, st->messages, st->both_ok, st->both_failed,
	       st->mismatches);
	if (st->undecodable > 0)
		printf(", %lu undecodable dnstap frames", st->undecodable);
	printf("\n");
	for (long i = 0; i < 16; i++) {
		if (st->failed_by_code[i] > 0)
			printf("  both failed, ours %s: %lu\n",
			       tp_strerror((int)(TP_EMALF - i)),
			       st->failed_by_code[i]);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		printf("SKIP: no shared directory given\n");
		return 77;
	}
	char dir[4096];
	int w = snprintf(dir, sizeof(dir), "%s/data", argv[1]);
	if (w < 0 || (size_t)w >= sizeof(dir)) {
		printf("SKIP: shared directory path too long\n");
		return 77;
	}
	DIR *d = opendir(dir);
	if (d == NULL) {
		printf("SKIP: %s is absent (the shared captures are not here)\n",
		       dir);
		return 77;
	}
	unsigned long messages = 0, mismatches = 0;
	int files = 0, bad = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l < 7 || strcmp(de->d_name + l - 7, ".dnstap") != 0)
			continue;
		char path[8192];
		w = snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (w < 0 || (size_t)w >= sizeof(path)) {
			bad = 1;
			continue;
		}
		struct file_stats st;
		memset(&st, 0, sizeof(st));
		if (check_file(path, &st) != 0 || st.undecodable > 0)
			bad = 1;
		print_file(path, &st);
		messages += st.messages;
		mismatches += st.mismatches;
		files++;
	}
	closedir(d);
	if (files == 0) {
		printf("SKIP: no *.dnstap files in %s\n", dir);
		return 77;
	}
	printf("dns_vs_ldns: %lu messages, %lu mismatches\n", messages,
	       mismatches);
	return bad || mismatches > 0 ? 1 : 0;
}
