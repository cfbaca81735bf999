/* Router: literal and parameter segments, method handling, 405 masks, bad patterns. */
#include "core/err.h"
#include "http/router.h"
#include "test.h"

static void h_list(http_req_t *r) { (void)r; }
static void h_get(http_req_t *r) { (void)r; }
static void h_post(http_req_t *r) { (void)r; }
static void h_approve(http_req_t *r) { (void)r; }

static http_router_t *make(void)
{
    http_router_t *r = http_router_new();
    http_router_add(r, HTTP_M_GET, "/finance/expense", h_list);
    http_router_add(r, HTTP_M_POST, "/finance/expense", h_post);
    http_router_add(r, HTTP_M_GET, "/finance/expense/{id}", h_get);
    http_router_add(r, HTTP_M_POST, "/finance/expense/{id}/approve", h_approve);
    return r;
}

#define M(r, meth, path, m) http_router_match(r, meth, path, strlen(path), m)

TEST(literal_routes_match_by_method)
{
    http_router_t *r = make();
    http_route_match_t m;
    ASSERT_EQ_INT(0, M(r, HTTP_M_GET, "/finance/expense", &m));
    ASSERT(m.handler == h_list);
    ASSERT_EQ_INT(0, M(r, HTTP_M_POST, "/finance/expense", &m));
    ASSERT(m.handler == h_post);
    ASSERT_EQ_INT(0, m.n_params);
    http_router_free(r);
}

TEST(params_are_captured)
{
    http_router_t *r = make();
    http_route_match_t m;
    ASSERT_EQ_INT(0, M(r, HTTP_M_POST, "/finance/expense/42/approve", &m));
    ASSERT(m.handler == h_approve);
    ASSERT_EQ_INT(1, m.n_params);
    ASSERT_EQ_STR("id", m.names[0]);
    ASSERT_EQ_INT(2, m.value_lens[0]);
    ASSERT(memcmp(m.values[0], "42", 2) == 0);
    http_router_free(r);
}

TEST(trailing_and_double_slashes_are_ignored)
{
    http_router_t *r = make();
    http_route_match_t m;
    ASSERT_EQ_INT(0, M(r, HTTP_M_GET, "/finance/expense/", &m));
    ASSERT(m.handler == h_list);
    ASSERT_EQ_INT(0, M(r, HTTP_M_GET, "//finance//expense/7", &m));
    ASSERT(m.handler == h_get);
    http_router_free(r);
}

TEST(unknown_paths_are_not_found)
{
    http_router_t *r = make();
    http_route_match_t m;
    ASSERT_EQ_INT(BH_ENOTFOUND, M(r, HTTP_M_GET, "/finance", &m));
    ASSERT_EQ_INT(BH_ENOTFOUND, M(r, HTTP_M_GET, "/finance/expense/1/2/3", &m));
    ASSERT_EQ_INT(BH_ENOTFOUND, M(r, HTTP_M_GET, "relative", &m));
    ASSERT_EQ_INT(BH_ENOTFOUND, M(r, HTTP_M_GET, "", &m));
    http_router_free(r);
}

TEST(wrong_method_reports_allowed_methods)
{
    http_router_t *r = make();
    http_route_match_t m;
    char allow[128];
    ASSERT_EQ_INT(BH_EDECLINED, M(r, HTTP_M_DELETE, "/finance/expense", &m));
    http_router_allow_str(m.allowed, allow, sizeof allow);
    ASSERT_EQ_STR("GET, HEAD, POST, OPTIONS", allow);
    ASSERT_EQ_INT(BH_EDECLINED, M(r, HTTP_M_GET, "/finance/expense/1/approve", &m));
    http_router_allow_str(m.allowed, allow, sizeof allow);
    ASSERT_EQ_STR("POST, OPTIONS", allow);
    http_router_free(r);
}

TEST(head_falls_back_to_get)
{
    http_router_t *r = make();
    http_route_match_t m;
    ASSERT_EQ_INT(0, M(r, HTTP_M_HEAD, "/finance/expense/9", &m));
    ASSERT(m.handler == h_get);
    ASSERT_EQ_INT(1, m.n_params);
    http_router_free(r);
}

TEST(bad_patterns_are_rejected)
{
    http_router_t *r = http_router_new();
    ASSERT_EQ_INT(BH_EINVAL, http_router_add(r, HTTP_M_GET, "no-slash", h_get));
    ASSERT_EQ_INT(BH_EINVAL, http_router_add(r, HTTP_M_GET, "/a/{}", h_get));
    ASSERT_EQ_INT(BH_EINVAL, http_router_add(r, HTTP_M_GET, "/a/{x", h_get));
    ASSERT_EQ_INT(BH_EINVAL, http_router_add(r, HTTP_M_GET, "/a/x}y", h_get));
    ASSERT_EQ_INT(BH_EINVAL,
                  http_router_add(r, HTTP_M_GET, "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17",
                                  h_get));
    ASSERT_EQ_INT(BH_EINVAL,
                  http_router_add(r, HTTP_M_GET, "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}", h_get));
    http_router_free(r);
}

TEST(too_many_segments_in_a_path_do_not_match)
{
    http_router_t *r = make();
    http_route_match_t m;
    const char *p = "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t";
    ASSERT_EQ_INT(BH_ENOTFOUND, M(r, HTTP_M_GET, p, &m));
    http_router_free(r);
}

TEST_MAIN(TEST_ENTRY(literal_routes_match_by_method), TEST_ENTRY(params_are_captured),
          TEST_ENTRY(trailing_and_double_slashes_are_ignored),
          TEST_ENTRY(unknown_paths_are_not_found),
          TEST_ENTRY(wrong_method_reports_allowed_methods), TEST_ENTRY(head_falls_back_to_get),
          TEST_ENTRY(bad_patterns_are_rejected),
          TEST_ENTRY(too_many_segments_in_a_path_do_not_match))
