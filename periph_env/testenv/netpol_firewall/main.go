// Command kube-router-firewall runs only kube-router's NetworkPolicy controller: the part
// the test node needs. Building this instead of cmd/kube-router leaves out the BGP router,
// the IPVS proxy, the AWS SDK and the Docker client (about 40% of the packages), which is
// most of a cold build. Flags are kube-router's own, so node_netpol.py passes the same ones.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/cloudnativelabs/kube-router/v2/pkg/controllers/netpol"
	"github.com/cloudnativelabs/kube-router/v2/pkg/healthcheck"
	"github.com/cloudnativelabs/kube-router/v2/pkg/options"
	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	netinformers "k8s.io/client-go/informers/networking/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "%s\n", err)
		os.Exit(1)
	}
}

func run() error {
	klog.InitFlags(nil)
	config := options.NewKubeRouterConfig()
	config.AddFlags(pflag.CommandLine)
	pflag.Parse()
	if err := flag.Set("logtostderr", "true"); err != nil {
		return err
	}
	if err := flag.Set("v", config.VLevel); err != nil {
		return err
	}
	if config.CleanupConfig {
		npc := netpol.NetworkPolicyController{}
		npc.Cleanup()
		return nil
	}
	if !config.RunFirewall || config.RunRouter || config.RunServiceProxy {
		return fmt.Errorf("this build runs the firewall only: --run-firewall=true --run-router=false --run-service-proxy=false")
	}
	restConfig, err := clientcmd.BuildConfigFromFlags(config.Master, config.Kubeconfig)
	if err != nil {
		return fmt.Errorf("failed to build configuration from CLI: %v", err)
	}
	client, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return fmt.Errorf("failed to create Kubernetes client: %v", err)
	}

	var wg sync.WaitGroup
	var ipsetMutex sync.Mutex
	stopCh := make(chan struct{})
	healthChan := make(chan *healthcheck.ControllerHeartbeat, 10)
	hc, err := healthcheck.NewHealthController(config)
	if err != nil {
		return fmt.Errorf("failed to create health controller: %v", err)
	}
	wg.Add(1)
	go hc.RunServer(stopCh, &wg)

	podInformer := coreinformers.NewPodInformer(client, metav1.NamespaceAll, 0, cache.Indexers{})
	nsInformer := coreinformers.NewNamespaceInformer(client, 0, cache.Indexers{})
	npInformer := netinformers.NewNetworkPolicyInformer(client, metav1.NamespaceAll, 0, cache.Indexers{})
	informers := []cache.SharedIndexInformer{podInformer, nsInformer, npInformer}
	synced := make([]cache.InformerSynced, 0, len(informers))
	for _, informer := range informers {
		go informer.Run(stopCh)
		synced = append(synced, informer.HasSynced)
	}
	syncDone := make(chan bool, 1)
	go func() { syncDone <- cache.WaitForCacheSync(stopCh, synced...) }()
	select {
	case <-time.After(config.CacheSyncTimeout):
		return fmt.Errorf("%s timeout", config.CacheSyncTimeout.String())
	case <-syncDone:
	}
	hc.SetAlive()
	wg.Add(1)
	go hc.RunCheck(healthChan, stopCh, &wg)

	iptablesCmdHandlers, ipSetHandlers, err := netpol.NewIPTablesHandlers(config)
	if err != nil {
		return fmt.Errorf("failed to create iptables handlers: %v", err)
	}
	npc, err := netpol.NewNetworkPolicyController(client, config, podInformer, npInformer,
		nsInformer, &ipsetMutex, iptablesCmdHandlers, ipSetHandlers)
	if err != nil {
		return fmt.Errorf("failed to create network policy controller: %v", err)
	}
	if _, err := podInformer.AddEventHandler(npc.PodEventHandler); err != nil {
		return err
	}
	if _, err := nsInformer.AddEventHandler(npc.NamespaceEventHandler); err != nil {
		return err
	}
	if _, err := npInformer.AddEventHandler(npc.NetworkPolicyEventHandler); err != nil {
		return err
	}
	wg.Add(1)
	go npc.Run(healthChan, stopCh, &wg)

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	<-signals
	klog.Info("shutting down the firewall")
	close(stopCh)
	wg.Wait()
	return nil
}
