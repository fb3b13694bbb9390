-- Requests sent per priority class since the partner's day started, and in the last minute, of every client id
-- (as analytics.quota_daily counts them: a connection test with a wrong client id is an ops call too). Every
-- request counts (retries and token requests too), as the client's quota counts them; checks are ops calls of a
-- connection test, counted apart as well.
SELECT priority_class,
       count(*) AS used_today,
       count(*) FILTER (WHERE called_at > %(now)s - interval '1 minute') AS last_minute,
       count(*) FILTER (WHERE operation = %(check_operation)s) AS checks
  FROM symphonics.api_calls
 WHERE called_at >= %(day_start)s
   AND called_at <= %(now)s
 GROUP BY priority_class
