"""What BigQuery has: the names of its built-in functions (GoogleSQL, https://cloud.google.com/bigquery/docs/
reference/standard-sql/functions-all), its date parts and its types. A generated statement that calls a function
not listed here would not run there."""

from __future__ import annotations

_FUNCTIONS = """
    any_value array_agg array_concat_agg avg bit_and bit_or bit_xor count countif grouping logical_and logical_or
    max max_by min min_by string_agg sum approx_count_distinct approx_quantiles approx_top_count approx_top_sum
    corr covar_pop covar_samp stddev stddev_pop stddev_samp var_pop var_samp variance
    hll_count.init hll_count.merge hll_count.merge_partial hll_count.extract
    cume_dist dense_rank ntile percent_rank rank row_number first_value last_value lag lead nth_value
    percentile_cont percentile_disc
    abs acos acosh asin asinh atan atan2 atanh cbrt ceil ceiling cos cosh cot coth csc csch degrees div exp floor
    greatest ieee_divide is_inf is_nan least ln log log10 mod pi pow power radians rand range_bucket round
    safe_add safe_divide safe_multiply safe_negate safe_subtract sec sech sign sin sinh sqrt tan tanh trunc
    cosine_distance euclidean_distance
    bit_count
    ascii byte_length char_length character_length chr code_points_to_bytes code_points_to_string collate concat
    contains_substr edit_distance ends_with format from_base32 from_base64 from_hex initcap instr left length lower
    lpad ltrim normalize normalize_and_casefold octet_length regexp_contains regexp_extract regexp_extract_all
    regexp_instr regexp_replace regexp_substr repeat replace reverse right rpad rtrim safe_convert_bytes_to_string
    soundex split starts_with strpos substr substring to_base32 to_base64 to_code_points to_hex translate trim
    unicode upper
    array array_concat array_first array_last array_length array_reverse array_slice array_to_string
    generate_array generate_date_array generate_timestamp_array generate_range_array array_includes
    array_includes_all array_includes_any array_is_distinct
    current_date date date_add date_diff date_from_unix_date date_sub date_trunc extract format_date last_day
    parse_date unix_date current_datetime datetime datetime_add datetime_diff datetime_sub datetime_trunc
    format_datetime parse_datetime current_time time time_add time_diff time_sub time_trunc format_time parse_time
    current_timestamp format_timestamp parse_timestamp string timestamp timestamp_add timestamp_diff
    timestamp_micros timestamp_millis timestamp_seconds timestamp_sub timestamp_trunc unix_micros unix_millis
    unix_seconds justify_days justify_hours justify_interval make_interval
    coalesce if ifnull nullif nullifzero zeroifnull iferror iserror
    farm_fingerprint md5 sha1 sha256 sha512 generate_uuid session_user error
    json_extract json_extract_array json_extract_scalar json_extract_string_array json_query json_query_array
    json_value json_value_array parse_json to_json to_json_string json_type json_keys json_object json_array
    json_set json_remove json_strip_nulls bool int64 float64 lax_bool lax_int64 lax_float64 lax_string
    st_geogpoint st_distance st_geogfromtext st_astext st_x st_y st_contains st_intersects st_dwithin st_area
    net.host net.ip_from_string net.safe_ip_from_string net.ip_to_string
    range range_start range_end range_contains range_overlaps range_intersect
    keys.new_keyset aead.encrypt aead.decrypt_string deterministic_encrypt deterministic_decrypt_string
    struct unnest cast safe_cast exists
"""
BIGQUERY_FUNCTIONS = frozenset(_FUNCTIONS.split())

# The parts EXTRACT takes (DATE, TIME and DATETIME too: EXTRACT(DATE FROM ts)).
DATE_PARTS = frozenset("""
    microsecond millisecond second minute hour dayofweek day dayofyear week isoweek month quarter year isoyear
    date time datetime
""".split())

TYPES = frozenset("""
    int64 float64 numeric bignumeric bool string bytes date datetime time timestamp interval json geography
    array struct range
""".split())
