/**
 * Offline check of a rabbitmq.conf candidate with RabbitMQ's own parser: the Cuttlefish library
 * and the `.schema` files that ship in every plugin directory, exactly what the node's prelaunch
 * phase uses (rabbit_prelaunch_conf: cuttlefish_conf:files/1 then cuttlefish_generator:map/2 over
 * the schemas of every app in the plugins dir). RabbitMQ itself has no "config test" flag, and a
 * bad key (e.g. 3.11's `default_queue_type` on 3.10) otherwise only shows up as a node that
 * refuses to boot. Runs in ~0.6 s with no node, no cookie and no network.
 *
 * Validators run too: `load_definitions` must name a readable file (`file_accessible`), so the
 * definitions file has to be in place first (rabbitmq.conf's FileSpec.after names it, so the
 * Pulumi program writes it first; the engine creates independent files in parallel).
 *
 * https://www.rabbitmq.com/configure.html#config-file-formats
 */

/** Erlang expression run by `erl -eval`; the file to check is the single plain argument. */
const CHECK_EXPR = [
  // Everything inside try: a failed -eval does not stop erl, and with -noshell it would hang.
  "try",
  "[F] = init:get_plain_arguments(),",
  // The newest installed server (an upgrade can leave the previous version's directory behind).
  'Root = lists:last(lists:sort(filelib:wildcard("/usr/lib/rabbitmq/lib/rabbitmq_server-*/plugins"))),',
  '[code:add_patha(D) || D <- filelib:wildcard(Root ++ "/*/ebin")],',
  'Schema = cuttlefish_schema:files(lists:sort(filelib:wildcard(Root ++ "/*/priv/schema/*.schema"))),',
  "Errs = case cuttlefish_conf:files([F]) of",
  "  {errorlist, E1} -> E1;",
  "  Conf -> case cuttlefish_generator:map(Schema, Conf) of {error, _Phase, {errorlist, E2}} -> E2; _ -> [] end",
  "end,",
  '[io:format(standard_error, "~ts: ~ts~n", [F, cuttlefish_error:xlate(E)]) || E <- Errs],',
  // init:stop/1, not halt/1: an orderly stop lets the standard_error server write the messages
  // first (halt/1 dropped them now and then: exit 1 with an empty stderr).
  "init:stop(case Errs of [] -> 0; _ -> 1 end)",
  'catch C:R -> io:format(standard_error, "rabbitmq.conf check failed: ~p:~p~n", [C, R]), init:stop(2)',
  "end.",
].join(" ");

/** `FileSpec.validate` for rabbitmq.conf (`{file}` is the candidate). Exit 0 = accepted. */
export const RABBITMQ_CONF_VALIDATE = `erl -noshell -noinput -eval '${CHECK_EXPR}' -extra {file}`;
