"""What every sandbox component shares, as apimachinery and client-go are shared: API errors,
the resource table, selectors, quantities, the back-off, the event recorder, the work-queue
Controller base, informer-like caches and object helpers. It imports no other sandbox package,
so any of them can be imported first."""
