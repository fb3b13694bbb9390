-- Requests sent per priority class since the partner's day started, and in the last minute. Every request
-- counts (retries and token requests too), as the client's quota counts them.
SELECT priority_class,
       count(*) AS used_today,
       count(*) FILTER (WHERE called_at > %(now)s - interval '1 minute') AS last_minute
  FROM symphonics.api_calls
 WHERE called_at >= %(day_start)s
   AND called_at <= %(now)s
   AND (%(client_id)s::text IS NULL OR client_id = %(client_id)s::text)
 GROUP BY priority_class
